"""Semantic pairs in explanations (issue 20): which pairs are reasons, counted on demands_dev.

The demands_dev bundle (3,720 KPPatent-ZH patents, the 70 demands, shipped encoder and
fusion) explains each demand's top 10 (``match_demand``, the broker's path). Counted for
the previous rule (cosine > 0.3, nothing else) and the current one
(``matcher.explain``: lexical share below ``PAIR_MAX_LEXICAL_SHARE``, cosine above
``PAIR_MIN_COSINE``, both clauses specific):

- pairs shown; of them on matches whose score is "几乎全部来自关键词" (lexical share >= 0.8),
  with a generic record clause, below the calibrated cosine;
- pairs shown on judged-relevant matches, and on matches where the semantic side carried
  at least 40 % of the score (where a pair is the reason);
- the calibration: the best pair's cosine on judged pairs (grade >= 2) vs on unrelated
  pairs (ranks 150-159 of the same demand's list, not judged): the bar is the unrelated
  pairs' 90th percentile, so nine in ten chance pairs stay below it.

    nice -n 10 .venv/bin/python -m benchmarks.pair_study
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

RULES = {"previous": {"PAIR_MAX_LEXICAL_SHARE": 1.01, "PAIR_MIN_COSINE": 0.3, "PAIR_NEEDS_SPECIFIC": False},
         "raw": {"PAIR_MAX_LEXICAL_SHARE": 1.01, "PAIR_MIN_COSINE": -1.0, "PAIR_NEEDS_SPECIFIC": False}}


@contextmanager
def rule(values: dict[str, Any]) -> Iterator[None]:
    import matcher.explain as ex

    old = {k: getattr(ex, k) for k in values}
    for k, v in values.items():
        setattr(ex, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(ex, k, v)


def _cos(encode: Any, pairs: list[tuple[str, str]]) -> np.ndarray:
    if not pairs:
        return np.zeros(0)
    a = np.asarray(encode([p[0] for p in pairs]), dtype=np.float32)
    b = np.asarray(encode([p[1] for p in pairs]), dtype=np.float32)
    return np.sum(a * b, axis=1)


def explain_all(ranker: Any, demand_ids: list[str], qrels: dict[str, dict[str, int]],
                ) -> list[dict[str, Any]]:
    """One row per (demand, top-10 match): pair, lexical share, relevance."""
    rows = []
    for d in demand_ids:
        for m in ranker.match_demand(d, limit=10).items:
            rows.append({"demand": d, "patent": m.record_id, "pair": m.semantic_pair,
                         "reason": m.reason, "grade": qrels.get(d, {}).get(m.record_id, 0),
                         "share_words": next((w for w in ("几乎全部来自关键词", "大半来自关键词",
                                                          "约各占一半", "大半来自语义相近",
                                                          "几乎全部来自语义相近") if w in m.reason), "")})
    return rows


def counts(rows: list[dict[str, Any]], encode: Any, specific: Any, bar: float) -> dict[str, Any]:
    shown = [r for r in rows if r["pair"]]
    cos = _cos(encode, [tuple(r["pair"]) for r in shown])
    return {
        "matches": len(rows),
        "pairs shown": len(shown),
        "on 几乎全部来自关键词 matches": sum(r["share_words"] == "几乎全部来自关键词" for r in shown),
        "record clause generic": sum(not specific(r["pair"][1]) for r in shown),
        "demand clause generic": sum(not specific(r["pair"][0]) for r in shown),
        f"cosine <= {bar:.3f}": int((cos <= bar).sum()),
        "on judged-relevant matches": sum(r["grade"] > 0 for r in shown),
        "judged-relevant matches": sum(r["grade"] > 0 for r in rows),
        "on semantic-heavy matches (>= 40 %)": sum(r["share_words"] in ("约各占一半", "大半来自语义相近",
                                                                     "几乎全部来自语义相近") for r in shown),
        "semantic-heavy matches": sum(r["share_words"] in ("约各占一半", "大半来自语义相近",
                                                          "几乎全部来自语义相近") for r in rows),
        "examples": [f"{r['pair'][0]} ↔ {r['pair'][1]}" for r in shown[:12]],
    }


def calibrate(ranker: Any, demand_ids: list[str], qrels: dict[str, dict[str, int]],
              encode: Any) -> dict[str, Any]:
    """Best-pair cosine on judged (grade >= 2) vs unrelated (ranks 150-159) pairs."""
    from matcher.queries import record_text

    side = ranker.bundle.patents
    explainer = ranker.explainer(side)
    judged, chance = [], []
    with rule(RULES["raw"]):
        for d in demand_ids:
            row = ranker.bundle.demands.row_of(d)
            qtext = record_text(ranker.bundle.demands.doc(row), "demands")
            far = ranker.match_demand(d, limit=10, offset=150, explain=False).items
            good = [p for p, g in qrels.get(d, {}).items() if g >= 2 and side.row_of(p) is not None]
            for ids, out in ((good, judged), ([m.record_id for m in far if m.record_id not in qrels.get(d, {})], chance)):
                docs = [{**side.doc(side.row_of(i))} for i in ids]
                for e in explainer.explain_page(qtext, docs):
                    if e.semantic_pair:
                        out.append(e.semantic_pair)
    cj, cc = _cos(encode, judged), _cos(encode, chance)
    q = lambda a, p: float(np.percentile(a, p)) if len(a) else float("nan")  # noqa: E731
    # the bar: the cosine that best separates judged from unrelated pairs (Youden's J:
    # share of judged pairs kept minus share of unrelated pairs kept)
    grid = [round(0.25 + 0.01 * i, 2) for i in range(26)]
    kept = {t: (float((cj > t).mean()), float((cc > t).mean())) for t in grid}
    bar = max(grid, key=lambda t: (kept[t][0] - kept[t][1], -t))
    return {"judged pairs": len(cj), "unrelated pairs": len(cc),
            "judged p10/p50/p90": [q(cj, 10), q(cj, 50), q(cj, 90)],
            "unrelated p50/p90/p95": [q(cc, 50), q(cc, 90), q(cc, 95)],
            "kept (judged, unrelated) by bar": {str(t): v for t, v in kept.items()},
            "bar (best J)": bar, "judged above bar": kept[bar][0], "unrelated above bar": kept[bar][1]}


HAND_CHECKED = ("寻求钠电正极料的规模化制备技术", "我们需要提升锂电池低温放电性能的技术",
                "关于振动探头的技术需求", "希望找到高效散热方案", "我们公司主要做环境监测设备",
                "寻找减少汽车行驶噪音的技术")


def hand_checked(ranker: Any) -> list[str]:
    """The free-text queries checked by hand in issue20-goals.md: their top-5 reasons."""
    out = []
    for text in HAND_CHECKED:
        for m in ranker.match_text(text, limit=5).items:
            out.append(f"{text} → {m.record_id}: {m.reason}")
    return out


def study(shared: Path | None = None) -> dict[str, Any]:
    from benchmarks.evaluate import task_bundle
    from benchmarks.tasks import load_task
    from indexing.build.build_config import BuildConfig
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.config import with_recorded_fusion
    from matcher.explain import PAIR_MIN_COSINE
    from matcher.ranker import HybridRanker

    task = load_task("demands_dev", shared)
    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig("default"))
    with tempfile.TemporaryDirectory() as tmp:
        path = task_bundle(task, tok, enc, Path(tmp) / "b",
                           config=with_recorded_fusion(BuildConfig(keep_invalid=True)))
        ranker = HybridRanker.from_bundle(path, tokenizer=tok, encoder=enc)
        ids = [q for q in task.queries if ranker.bundle.demands.row_of(q) is not None]
        explainer = ranker.explainer(ranker.bundle.patents)
        encode = enc.encode_documents
        cal = calibrate(ranker, ids, task.qrels, encode)
        out: dict[str, Any] = {"calibration": cal, "rules": {}}
        out["hand checked"] = {}
        for name, values in (("previous", RULES["previous"]), ("current", {})):
            with rule(values):
                rows = explain_all(ranker, ids, task.qrels)
                out["hand checked"][name] = hand_checked(ranker)
            out["rules"][name] = counts(rows, encode, explainer.specific, PAIR_MIN_COSINE)
            out["rules"][name]["known weak pairs (制备方法简单, 配制含有镍离子)"] = sum(
                any(w in line for w in ("↔ 制备方法简单", "↔ 配制含有镍离子"))
                for line in out["hand checked"][name])
    return out


def to_markdown(res: dict[str, Any]) -> str:
    cal = res["calibration"]
    lines = ["# Semantic pairs on demands_dev (70 demands x top 10, `match_demand`)", "",
             "Rerun: `nice -n 10 .venv/bin/python -m benchmarks.pair_study`", "",
             "Calibration (best pair's cosine, shipped encoder): judged pairs (grade >= 2) "
             f"p10/p50/p90 {', '.join(f'{x:.3f}' for x in cal['judged p10/p50/p90'])} "
             f"({cal['judged pairs']} pairs); unrelated pairs (ranks 150-159) p50/p90/p95 "
             f"{', '.join(f'{x:.3f}' for x in cal['unrelated p50/p90/p95'])} "
             f"({cal['unrelated pairs']} pairs). The bar that best separates them (Youden's J "
             f"over 0.25-0.50): **{cal['bar (best J)']:.2f}**, keeping {cal['judged above bar']:.0%} "
             f"of judged and {cal['unrelated above bar']:.0%} of unrelated pairs "
             "(`matcher.explain.PAIR_MIN_COSINE`).", ""]
    names = list(res["rules"])
    keys = [k for k in res["rules"][names[0]] if k != "examples"]
    lines += ["| count | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(str(res["rules"][n][k]) for n in names) + " |")
    for n in names:
        lines += ["", f"Examples ({n}):", ""] + [f"- {e}" for e in res["rules"][n]["examples"]]
    for n, found in res.get("hand checked", {}).items():
        lines += ["", f"Hand-checked free-text queries, top 5 ({n}):", ""] + [f"- {e}" for e in found]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args()
    res = study()
    out = Path(a.out)
    (out / "pair_study.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    md = to_markdown(res)
    (out / "pair_study.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
