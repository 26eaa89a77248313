"""Best-clause as a fused third signal (issue 20): does it pass the project's rule?

A side experiment showed that the best clause-to-clause cosine between a demand and a
patent (max over the demand's clauses x the patent's first 12 title/abstract clauses,
the explainer's own clause split) helps demands_dev. This study measures it the way the
fusion default was chosen (``benchmarks.evidence_study``): every shared task, a bundle
built by ``build_bundle``, the shipped fusion (bounded 0.2, 1 : 0.35) ranking the top 100,
then

    score' = fused score + w x best-clause cosine (min-max over the query's 100 candidates)

for several w. The rule: no known-item task more than 1 % below the best single retriever
(as in evidence_study), and never below the plain ranking (w = 0) on any task; among those
the best mean nDCG@10 over demands_dev and zero_overlap. It also reports the cost: clause
encoding of the corpus (a build step) and the per-query re-rank (query clauses encoded,
max over 100 x 12 clause vectors), in process.

    nice -n 10 .venv/bin/python -m benchmarks.clause_study [--task NAME ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.evidence_study import DEMAND_LIKE, KNOWN_ITEM, TASK_NAMES

WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.35, 0.5)
DEPTH = 100
MAX_CLAUSES = 12


def _clause_table(docs: list[dict[str, Any]], encode: Any) -> tuple[np.ndarray, np.ndarray]:
    """All records' clauses encoded once: (vectors, start offset per record + end)."""
    from matcher.clauses import record_clauses

    texts: list[str] = []
    starts = [0]
    for d in docs:
        cs = record_clauses(d, ("title", "abstract"))[:MAX_CLAUSES] or [str(d.get("title") or "")]
        texts.extend(cs)
        starts.append(len(texts))
    return encode(texts), np.asarray(starts, dtype=np.int64)


def _best_clause(qtext: str, rows: np.ndarray, table: tuple[np.ndarray, np.ndarray],
                 encode: Any) -> np.ndarray:
    from matcher.clauses import clauses

    qc = clauses(qtext) or [qtext]
    qv = encode(qc)
    vecs, starts = table
    out = np.zeros(len(rows), dtype=np.float32)
    for j, r in enumerate(rows):
        if r < 0:
            continue
        block = vecs[starts[r]:starts[r + 1]]
        if len(block):
            out[j] = float((qv @ block.T).max())
    return out


def study(tasks: tuple[str, ...], log: Any = print) -> dict[str, Any]:
    from benchmarks.evaluate import task_bundle
    from benchmarks.tasks import TASKS, load_task
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.index.bundle import IndexBundle
    from indexing.index.filters import Filters
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.config import FusionConfig
    from matcher.kernels import lexical_query_matrix, rank_block
    from matcher.queries import record_text
    from matcher.ranker import HybridRanker
    from matcher.relevance import mean_metrics as metrics
    from matcher.semantic import static_encode_for

    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig("default"))
    encode = static_encode_for(enc) or enc.encode_documents
    qencode = static_encode_for(enc, queries=True) or enc.encode_queries
    results: dict[str, Any] = {}
    for name in tasks:
        if name not in TASKS:
            continue
        task = load_task(name)
        with tempfile.TemporaryDirectory() as tmp:
            path = task_bundle(task, tok, enc, Path(tmp) / "bundle")
            ranker = HybridRanker(IndexBundle.load(path), tok, enc)
            side, dem = ranker.bundle.patents, ranker.bundle.demands
            t0 = time.perf_counter()
            table = _clause_table([side.doc(r) for r in range(len(side.ids))], encode)
            build_s = time.perf_counter() - t0
            qids = [q for q in task.queries if q in task.qrels]
            texts = [task.queries[q] if task.queries[q] is not None
                     else record_text(dem.doc(dem.row_of(q)), "demands") for q in qids]
            qvecs = np.stack([enc.encode_queries([t])[0] if task.queries[q] is not None
                              else np.asarray(dem.vectors[dem.row_of(q)], dtype=np.float32)
                              for q, t in zip(qids, texts, strict=True)]).astype(np.float32)
            fusion = FusionConfig.from_dict({**ranker.config.to_dict(), "depth": DEPTH,
                                             "candidates": max(ranker.config.candidates, DEPTH // 2)})
            mask = side.mask(Filters(valid_only=False))
            qm = lexical_query_matrix(side, tok, texts)
            _, fused = rank_block(side, None, qvecs, fusion=fusion, limit=DEPTH, mask=mask,
                                  query_matrix=qm)
            per_query = []
            best = []
            for i, t in enumerate(texts):
                t1 = time.perf_counter()
                best.append(_best_clause(t, fused["rows"][i], table, qencode))
                per_query.append((time.perf_counter() - t1) * 1000)
            qrels = {q: task.qrels[q] for q in qids}
            rows: dict[str, Any] = {}
            for w in WEIGHTS:
                runs = {}
                for i, q in enumerate(qids):
                    r = fused["rows"][i]
                    ok = r >= 0
                    s = np.nan_to_num(fused["score"][i], nan=-np.inf)
                    b = best[i]
                    bv = b[ok]
                    lo, hi = (float(bv.min()), float(bv.max())) if bv.size else (0.0, 0.0)
                    nb = (b - lo) / (hi - lo) if hi > lo else np.zeros_like(b)
                    total = np.where(ok, s + w * nb, -np.inf)
                    order = np.argsort(-total, kind="stable")
                    runs[q] = [side.ids[r[j]] for j in order if r[j] >= 0]
                label = "plain (shipped fusion)" if w == 0 else f"+ best clause x {w}"
                rows[label] = metrics(runs, qrels)
                rows[label]["first@1"] = sum(bool(runs[q]) and runs[q][0] in qrels[q]
                                             for q in qids) / max(len(qids), 1)
            singles = {}
            from matcher.evaluate import run_queries
            for label, cfg in (("lexical only", FusionConfig(method="weighted_rrf", weights=(1.0, 0.0))),
                               ("dense only", FusionConfig(method="weighted_rrf", weights=(0.0, 1.0)))):
                runs = run_queries(ranker, {q: task.queries[q] for q in qids}, k=DEPTH, fusion=cfg,
                                   filters=Filters(valid_only=False))
                singles[label] = metrics(runs, qrels)
        pq = np.asarray(per_query)
        results[name] = {"queries": len(qids), "documents": len(task.corpus), "rows": rows,
                         "singles": singles, "clause_encode_s": round(build_s, 2),
                         "clauses": int(table[1][-1]),
                         "rerank_ms_p50": round(float(np.percentile(pq, 50)), 3),
                         "rerank_ms_p99": round(float(np.percentile(pq, 99)), 3)}
        log(f"{name}: {len(qids)} queries, {len(task.corpus)} docs, clauses {table[1][-1]} "
            f"in {build_s:.1f} s, re-rank p50 {results[name]['rerank_ms_p50']} ms")
    return results


def choose(results: dict[str, Any], tolerance: float = 0.01) -> tuple[str, dict[str, Any]]:
    """The rule (module docstring); returns the chosen row and why each other failed."""
    verdict: dict[str, Any] = {}
    ok = []
    labels = list(next(iter(results.values()))["rows"])
    for label in labels:
        why = []
        for t, r in results.items():
            plain = r["rows"]["plain (shipped fusion)"]["ndcg@10"]
            if r["rows"][label]["ndcg@10"] < plain - 1e-9:
                why.append(f"{t} below plain")
            if t in KNOWN_ITEM:
                best = max(s["ndcg@10"] for s in r["singles"].values())
                if (best - r["rows"][label]["ndcg@10"]) / best > tolerance:
                    why.append(f"{t} > 1 % below best single")
        demand = [results[t]["rows"][label]["ndcg@10"] for t in DEMAND_LIKE if t in results]
        verdict[label] = why or "passes"
        if not why:
            ok.append((sum(demand) / max(len(demand), 1), label))
    return (max(ok)[1] if ok else "plain (shipped fusion)"), verdict


def to_markdown(results: dict[str, Any]) -> str:
    tasks = list(results)
    labels = list(next(iter(results.values()))["rows"])
    chosen, verdict = choose(results)
    out = ["# Best clause as a fused signal (issue 20)", "",
           "nDCG@10 / MRR@10 per task (zero_overlap also the share right-first); shipped encoder, "
           "shipped fusion ranks the top 100, then + w x best-clause cosine (min-max per query). "
           "Rerun: `nice -n 10 .venv/bin/python -m benchmarks.clause_study`", "",
           "| ranking | " + " | ".join(tasks) + " | rule |",
           "|---|" + "---|" * len(tasks) + "---|"]
    for label in [*labels, "lexical only", "dense only"]:
        cells = []
        for t in tasks:
            r = results[t]["rows"].get(label) or results[t]["singles"][label]
            c = f"{r['ndcg@10']:.3f} / {r['mrr@10']:.3f}"
            if "first@1" in r and t == "zero_overlap":
                c += f" / {r['first@1']:.2f}"
            cells.append(c)
        v = verdict.get(label, "(single)")
        v = v if isinstance(v, str) else "; ".join(v)
        out.append(f"| {label} | " + " | ".join(cells) + f" | {v} |")
    out += ["", f"**Rule's choice: {chosen}.**", "", "Cost (in process, shared 2-core machine):", "",
            "| task | records | clauses | clause encoding (build) s | re-rank p50 / p99 ms per query |",
            "|---|---:|---:|---:|---|"]
    for t in tasks:
        r = results[t]
        out.append(f"| {t} | {r['documents']} | {r['clauses']} | {r['clause_encode_s']} | "
                   f"{r['rerank_ms_p50']} / {r['rerank_ms_p99']} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", action="append", default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    a = ap.parse_args()
    res = study(tuple(a.task or TASK_NAMES))
    from patmatch.atomic_io import atomic_write_text

    atomic_write_text(a.out / "clause_study.json", json.dumps(res, indent=1, ensure_ascii=False))
    atomic_write_text(a.out / "clause_study.md", to_markdown(res))
    print(to_markdown(res))


if __name__ == "__main__":
    main()
