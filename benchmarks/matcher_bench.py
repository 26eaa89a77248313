"""Matcher performance: single-query latency and all-vs-all batch throughput.

    .venv/bin/python -m benchmarks.matcher_bench [--patents 20000] [--demands 20000] [--dim 256]

Synthetic but realistic shapes: patent texts are KPPatent-ZH abstracts recombined to the
wanted count (so the BM25 vocabulary and posting lengths are real), vectors are random
unit vectors of the default encoder's dimension (the query encoder's own latency is
measured in indexing's benchmarks, not here). Reports p50/p99 of ``match_text`` with
explanations (semantic pair off, since the fake encoder has no meaning) and the batch
throughput of ``run_batch`` (parquet out, top-20), plus the dense GEMM floor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


class _FakeEncoder:
    fingerprint = "bench-random"

    def __init__(self, dim: int) -> None:
        self.dimension = dim

    def _enc(self, texts: list[str]) -> np.ndarray:
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dimension)
                        for t in texts]).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._enc(list(texts))

    def encode_documents(self, texts: list[str], **_: object) -> np.ndarray:
        return self._enc(list(texts))


def _texts(n: int, seed: int) -> list[tuple[str, str]]:
    from benchmarks.tasks import kppatent_records
    from patmatch.settings import shared_data_dir

    base = [(r.title or "", r.abstract or "") for r in kppatent_records(shared_data_dir())]
    rng = np.random.default_rng(seed)
    sents = [s for _, a in base for s in a.split("，") if s]
    out = []
    for i in range(n):
        t, a = base[i % len(base)]
        extra = "，".join(sents[j] for j in rng.integers(0, len(sents), 3))
        out.append((t, a + "，" + extra if i >= len(base) else a))
    return out


def build_side(name: str, rows: list[tuple[str, str]], dim: int, tok: object, seed: int) -> object:
    import polars as pl

    from indexing.index.bundle import SideIndex
    from indexing.index.dense import DenseConfig, DenseIndex
    from indexing.index.sparse import SparseIndex

    titles = tok.tokenize_many([t for t, _ in rows])
    abstracts = tok.tokenize_many([a for _, a in rows])
    sparse = SparseIndex.build({"title": titles, "abstract": abstracts}, {"title": 2.0, "abstract": 1.0})
    v = np.random.default_rng(seed).standard_normal((len(rows), dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = [f"{name[0].upper()}{i:07d}" for i in range(len(rows))]
    chains = [["battery_storage", "pv", "ai", "smart_equipment"][i % 4:i % 4 + 1] for i in range(len(rows))]
    facets = pl.DataFrame({"id": ids, "chains": chains, "legal_valid": [True] * len(rows)})
    body = "abstract" if name == "patents" else "text"
    docs = pl.DataFrame({"id": ids, "title": [t for t, _ in rows], body: [a for _, a in rows]})
    return SideIndex(name, ids, facets, docs, sparse, DenseIndex.build(v, DenseConfig(kind="flat")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patents", type=int, default=20000)
    ap.add_argument("--demands", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--latency-queries", type=int, default=200)
    a = ap.parse_args()
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.batch import run_batch
    from matcher.queries import queries_from_side
    from matcher.ranker import HybridRanker

    tok = ChineseTokenizer()
    t0 = time.perf_counter()
    patents = build_side("patents", _texts(a.patents, 1), a.dim, tok, 1)
    demands = build_side("demands", _texts(a.demands, 2)[::-1], a.dim, tok, 2)
    setup = time.perf_counter() - t0

    class BenchBundle:
        build_id = "bench"

        def side(self, n: str) -> object:
            return patents if n == "patents" else demands

    b = BenchBundle()
    b.patents, b.demands = patents, demands
    enc = _FakeEncoder(a.dim)
    ranker = HybridRanker(b, tok, enc)
    qs = [demands.docs["title"][i] + "。" + demands.docs["text"][i][:120] for i in range(a.latency_queries)]
    ranker.match_text(qs[0], semantic_reason=False)
    lat = []
    for q in qs:
        t = time.perf_counter()
        ranker.match_text(q, limit=10, semantic_reason=False)
        lat.append((time.perf_counter() - t) * 1000)
    queries = queries_from_side(demands, "demands")
    out = Path(tempfile.mkdtemp()) / "all.parquet"
    t = time.perf_counter()
    rep = run_batch(b, tok, enc, queries, out=out, top_k=20, progress=False)
    batch_s = time.perf_counter() - t
    t = time.perf_counter()
    g = np.asarray(queries.vectors[:2048]) @ np.asarray(patents.vectors).T
    gemm = (time.perf_counter() - t) * len(queries.ids) / 2048
    del g
    res = {"patents": a.patents, "demands": a.demands, "dim": a.dim, "setup_s": round(setup, 1),
           "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
           "latency_ms_p99": round(float(np.percentile(lat, 99)), 1),
           "batch_s": round(batch_s, 1), "batch_demands_per_s": round(len(queries.ids) / batch_s, 1),
           "batch_rows": rep.rows, "batch_stage_seconds": rep.extra.get("stage_seconds"),
           "dense_gemm_floor_s": round(gemm, 2)}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
