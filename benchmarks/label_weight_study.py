"""Choose the label-prior weight (grade / TRL as a ranking feature) by measurement through
the production path: each task's corpus is built into a bundle (``build_bundle`` with the
default labeler, so every patent has its grade and TRL), then the shipped fusion ranks
every query with the batch kernels (``matcher.evaluate.run_queries``) with the prior at
each candidate weight.

    python -m benchmarks.label_weight_study [--encoder default] [--task NAME ...] [--out DIR]

The rule (docs/matching.md), written down before the run: a weight > 0 becomes the default
only if it lowers nDCG@10 on no task (against weight 0, the plain ranking) and raises the
mean nDCG@10 over the demand-like tasks by at least ``MIN_GAIN`` (0.005: below that the
difference is the tie order of one or two of 70 queries, not a measured effect); among
those, the best mean. Otherwise the default is 0 (off).
Writes ``benchmarks/results/label_weight_study.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.evidence_study import DEMAND_LIKE, TASK_NAMES
from patmatch.atomic_io import atomic_write_text

WEIGHTS = (0.01, 0.02, 0.05, 0.1, 0.2)
PRIOR_KINDS = ("grade+trl", "grade", "trl")
BASE = "off (0)"
MIN_GAIN = 0.005


def candidates() -> list[tuple[str, Any]]:
    from matcher.config import FusionConfig

    out: list[tuple[str, Any]] = [(BASE, FusionConfig())]
    for kind in PRIOR_KINDS:
        for w in WEIGHTS:
            out.append((f"{kind} {w}", FusionConfig(label_weight=w, label_prior=kind)))
    return out


def study(encoder_name: str, tasks: tuple[str, ...] = TASK_NAMES, *, log: Any = print) -> dict[str, Any]:
    from benchmarks.evaluate import task_bundle
    from benchmarks.tasks import TASKS, load_task
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.index.bundle import IndexBundle
    from indexing.index.filters import Filters
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.evaluate import run_queries
    from matcher.relevance import mean_metrics as metrics
    from matcher.record_facts import side_facts
    from matcher.ranker import HybridRanker

    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig(encoder_name))
    results: dict[str, Any] = {}
    for name in tasks:
        if name not in TASKS:
            continue
        t0 = time.perf_counter()
        task = load_task(name)
        with tempfile.TemporaryDirectory() as tmp:
            path = task_bundle(task, tok, enc, Path(tmp) / "bundle")
            bundle = IndexBundle.load(path)
            facts = side_facts(bundle.patents)
            spread = {"grade": dict(Counter(str(g) for g in facts["grade"].to_list())),
                      "trl": dict(Counter(str(t) for t in facts["trl"].to_list()))}
            ranker = HybridRanker(bundle, tok, enc)
            qids = [q for q in task.queries if q in task.qrels]
            queries = {q: task.queries[q] for q in qids}
            qrels = {q: task.qrels[q] for q in qids}
            rows = {label: metrics(run_queries(ranker, queries, k=100, fusion=cfg,
                                               filters=Filters(valid_only=False)), qrels)
                    for label, cfg in candidates()}
        results[name] = {"queries": len(qids), "documents": len(task.corpus), "rows": rows,
                         "labels": spread, "seconds": round(time.perf_counter() - t0, 1)}
        log(f"{name}: {len(qids)} queries, {len(task.corpus)} docs, {results[name]['seconds']} s")
    return results


def choose(results: dict[str, Any]) -> tuple[str, float, str]:
    """(label, weight, prior kind) by the rule in the module docstring; (BASE, 0, ...) = off."""
    base = {t: r["rows"][BASE]["ndcg@10"] for t, r in results.items()}
    demand = [t for t in DEMAND_LIKE if t in results]
    base_mean = sum(base[t] for t in demand) / max(len(demand), 1)
    best: tuple[float, str, float, str] = (base_mean + MIN_GAIN - 1e-12, BASE, 0.0, "grade+trl")
    for label, cfg in candidates()[1:]:
        if any(r["rows"][label]["ndcg@10"] < base[t] for t, r in results.items()):
            continue
        mean = sum(results[t]["rows"][label]["ndcg@10"] for t in demand) / max(len(demand), 1)
        if mean >= best[0]:
            best = (mean, label, cfg.label_weight, cfg.label_prior)
    return best[1], best[2], best[3]


def to_markdown(results: dict[str, Any], encoder_name: str) -> str:
    lines = [f"# Label prior study (grade / TRL as a ranking feature; dense side `{encoder_name}`)", "",
             "nDCG@10 per task with the shipped fusion plus `label_weight x prior` "
             "(matcher/label_prior.py); Δ against the plain ranking (weight 0). Rerun: "
             f"`python -m benchmarks.label_weight_study --encoder {encoder_name}`", ""]
    lines += ["| prior weight | " + " | ".join(results) + " | lower on |", "|" + "---|" * (len(results) + 2)]
    base = {t: r["rows"][BASE]["ndcg@10"] for t, r in results.items()}
    for label, _ in candidates():
        cells, lower = [], []
        for t, r in results.items():
            v = r["rows"][label]["ndcg@10"]
            cells.append(f"{v:.3f}" if label == BASE else f"{v:.3f} ({v - base[t]:+.3f})")
            if v < base[t]:
                lower.append(t)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(lower)} |")
    lines += ["", "Label spread on each task's patents (what the prior can see):", ""]
    for t, r in results.items():
        lines.append(f"- {t}: grade {r['labels']['grade']}; TRL {r['labels']['trl']}")
    label, w, kind = choose(results)
    verdict = ("**off (label_weight 0)**: no weight keeps nDCG@10 on every task while raising the "
               f"demand-like mean by >= {MIN_GAIN}" if w == 0 else f"**{label}** (label_weight {w}, label_prior {kind})")
    lines += ["", "Rule: on by default only if nDCG@10 is lower on no task than with weight 0 and the "
              f"mean over the demand-like tasks ({', '.join(t for t in DEMAND_LIKE if t in results)}) "
              f"rises by at least {MIN_GAIN}. Chosen: {verdict}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="default")
    ap.add_argument("--task", action="append", help="only these tasks (repeatable)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args()
    res = study(a.encoder, tuple(a.task) if a.task else TASK_NAMES)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    label, w, kind = choose(res)
    atomic_write_text(out / "label_weight_study.json", json.dumps(
        {"encoder": a.encoder, "results": res, "chosen": {"label": label, "label_weight": w,
                                                          "label_prior": kind}},
        ensure_ascii=False, indent=1))
    atomic_write_text(out / "label_weight_study.md", to_markdown(res, a.encoder))
    print(to_markdown(res, a.encoder))


if __name__ == "__main__":
    main()
