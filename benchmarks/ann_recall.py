"""Approximate dense index vs exact search on the shared tasks, corpus padded to N.

The corpus is every shared task's documents (KPPatent-ZH, CSL) plus generated patents
(``patmatch demo-data``) up to ``--patents``. One bundle is built with the exact (flat)
index; every candidate compressed index is then trained and filled from the bundle's own
vectors and compared with exact search:

- recall@100: per query of every shared task, |approximate top-100 ∩ exact top-100| / 100,
  the query encoded as the ranker encodes it (no filter, like the evaluation);
- nDCG@10 of the production ranker (``HybridRanker.match_text``) on each task, with the
  exact index and with the chosen compressed one swapped in;
- build (train + add) seconds, index bytes in memory, dense search ms per query.

    PATMATCH_SHARED_DATA=/work/shared/data nice -n 10 python -m benchmarks.ann_recall \
        --patents 100000 --out benchmarks/results/ann_recall-100k
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CANDIDATES: dict[str, dict[str, Any]] = {
    "hnsw_sq8": {"kind": "hnsw_sq8", "refine_factor": 4},
    "hnsw_sq8_r8": {"kind": "hnsw_sq8"},  # refine_factor 8 (the default)
    "hnsw_sq8_norefine": {"kind": "hnsw_sq8", "refine_factor": 1},
    "hnsw_sq8_ef256_norefine": {"kind": "hnsw_sq8", "hnsw_ef_search": 256, "refine_factor": 1},
    "ivf_sq8": {"kind": "ivf_sq8", "refine_factor": 4},
    "ivf_sq8_norefine": {"kind": "ivf_sq8", "refine_factor": 1},
    "ivf_pq": {"kind": "ivf_pq", "refine_factor": 4},
    "ivf_pq_norefine": {"kind": "ivf_pq", "refine_factor": 1},
}


def padded_corpus(tasks: Sequence[Any], n_total: int, work: Path, *, seed: int = 0) -> list[Any]:
    """The tasks' documents (first occurrence of an id wins) plus generated patents."""
    from indexing.intake.ingest import read_records
    from indexing.training.demo_data.stream import generate_parts

    by_id: dict[str, Any] = {}
    for t in tasks:
        for r in t.corpus:
            by_id.setdefault(r.id, r)
    need = n_total - len(by_id)
    if need > 0:
        files = generate_parts(work / "pad", need, 0, seed=seed, part_rows=50_000)
        for f in files.patent_files:
            recs, _ = read_records("patents", f)
            for r in recs:
                by_id.setdefault(r.id, r)
    return list(by_id.values())


def _ndcg10(ranker: Any, task: Any) -> float:
    from benchmarks.evaluate import evaluate
    from indexing.index.filters import Filters

    everything = Filters(valid_only=False)

    def system(queries: Any) -> dict[str, list[str]]:
        return {q: [m.record_id for m in ranker.match_text(
            text, filters=everything, limit=10, explain=False, semantic_reason=False).items]
            for q, text in queries.items()}

    row = evaluate(task, {"ranker": system}, groups={}).rows[0]
    return float(row["ndcg@10"])


def _recall(approx: Any, exact: Any, qv: np.ndarray, k: int) -> tuple[float, float]:
    """(mean recall@k of approx vs exact, approx ms per query)."""
    hits = []
    t0 = time.perf_counter()
    got = [approx.search(q, k)[0] for q in qv]
    ms = (time.perf_counter() - t0) * 1000 / max(len(qv), 1)
    for q, a in zip(qv, got, strict=True):
        e = exact.search(q, k)[0]
        hits.append(len(set(a.tolist()) & set(e.tolist())) / max(len(e), 1))
    return float(np.mean(hits)), ms


def run(n_patents: int, out: Path, *, candidates: Sequence[str], chosen: str,
        k: int = 100, seed: int = 0, keep: Path | None = None, log: Any = print) -> dict[str, Any]:
    import faiss

    from benchmarks.evaluate import default_labeler
    from benchmarks.tasks import SHARED_TASKS, load_task
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import load_encoder
    from indexing.index.bundle import IndexBundle
    from indexing.index.dense import DenseConfig, DenseIndex
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.ranker import HybridRanker

    tokenizer, encoder = ChineseTokenizer(), load_encoder()
    tasks = [load_task(n) for n in SHARED_TASKS]
    res: dict[str, Any] = {"patents": n_patents, "k": k, "tasks": {}, "candidates": {}}
    with tempfile.TemporaryDirectory(prefix="ann_recall-") as tmp:
        work = Path(tmp)
        path = keep if keep is not None and keep.is_dir() else None
        if path is None:  # (--keep DIR: reuse the padded bundle of an earlier run)
            t0 = time.perf_counter()
            corpus = padded_corpus(tasks, n_patents, work, seed=seed)
            log(f"corpus {len(corpus)} ({time.perf_counter() - t0:.0f} s)")
            t0 = time.perf_counter()
            path = build_bundle(corpus, [], out_dir=keep or work / "bundle", tokenizer=tokenizer,
                                encoder=encoder, labeler=default_labeler(tokenizer),
                                config=BuildConfig(keep_invalid=True,
                                                   dense=DenseConfig(kind="flat")))
            del corpus
            res["build_s"] = round(time.perf_counter() - t0, 1)
            log(f"built {path} in {res['build_s']} s")
        bundle = IndexBundle.load(path)
        side = bundle.patents
        exact = side.dense
        res["patents"] = len(side)
        enc = encoder.encode_queries
        qvecs = {t.name: np.asarray(enc(list(t.queries.values())), dtype=np.float32) for t in tasks}
        allq = np.concatenate(list(qvecs.values()))
        res["queries"] = int(len(allq))
        for name in candidates:
            cfg = DenseConfig(**CANDIDATES[name])
            t0 = time.perf_counter()
            idx = DenseIndex.build(side.vectors, cfg)
            build_s = time.perf_counter() - t0
            faiss.omp_set_num_threads(1)
            rec, ms = _recall(idx, exact, allq, k)
            faiss.omp_set_num_threads(0)
            per_task = {t: round(_recall(idx, exact, v, k)[0], 4) for t, v in qvecs.items()}
            nbytes = len(faiss.serialize_index(idx.index))
            res["candidates"][name] = {"config": cfg.to_dict(), "build_s": round(build_s, 1),
                                       "recall": round(rec, 4), "recall_min_task": min(per_task.values()),
                                       "per_task": per_task, "ms_per_query": round(ms, 3),
                                       "index_mb": round(nbytes / 2**20, 1)}
            log(f"{name}: {res['candidates'][name]}")
            if name == chosen:
                approx = idx
        e_ms = _recall(exact, exact, allq[:50], k)[1]
        res["exact_ms_per_query"] = round(e_ms, 3)
        res["exact_mb"] = round(side.vectors.nbytes / 2**20, 1)
        for t in tasks:
            side.dense = exact
            flat = _ndcg10(HybridRanker(bundle, tokenizer, encoder), t)
            side.dense = approx
            comp = _ndcg10(HybridRanker(bundle, tokenizer, encoder), t)
            res["tasks"][t.name] = {"queries": len(t.queries), "ndcg10_exact": round(flat, 4),
                                    f"ndcg10_{chosen}": round(comp, 4),
                                    f"recall{k}_{chosen}": res["candidates"][chosen]["per_task"][t.name]}
            log(f"{t.name}: {res['tasks'][t.name]}")
        side.dense = exact
    res["chosen"] = chosen
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patents", type=int, default=100_000)
    ap.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    ap.add_argument("--chosen", default="hnsw_sq8_r8")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ann_recall"))
    ap.add_argument("--keep", type=Path, default=None,
                    help="build the padded bundle here and reuse it when it exists")
    a = ap.parse_args(argv)
    run(a.patents, a.out, candidates=a.candidates, chosen=a.chosen, keep=a.keep)


if __name__ == "__main__":
    main()
