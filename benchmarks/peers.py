"""Peer baselines, measured in the same run on the same data as patmatch.

- ``naive``: what a competent engineer would write in an afternoon: ``jieba.lcut_for_search``
  + ``bm25s`` + a sentence-transformers model + ``faiss.IndexFlatIP``, then one query at a
  time (tokenize, BM25 top-k, encode, FAISS top-k, RRF). Same encoder directory as ours,
  so the comparison is about the engineering, not the model.
- ``bm25s``: bm25s alone over the same jieba tokens, all queries in one ``retrieve`` call.
- ``rank_bm25``: ``BM25Okapi`` (pure Python) on a document subsample; its query time is
  linear in the corpus, so the full time is extrapolated (and reported as such).
Times are wall seconds on this machine; ``*_extrapolated`` fields say what was estimated.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def jieba_tokens(texts: Sequence[str]) -> list[list[str]]:
    import jieba

    jieba.setLogLevel(60)
    return [[t for t in jieba.lcut_for_search(x) if t.strip()] for x in texts]


def _rrf(a: Sequence[int], b: Sequence[int], k: int = 60) -> list[int]:
    s: dict[int, float] = {}
    for lst in (a, b):
        for r, d in enumerate(lst):
            s[int(d)] = s.get(int(d), 0.0) + 1.0 / (k + r + 1)
    return sorted(s, key=lambda d: -s[d])


def naive_peer(doc_texts: Sequence[str], query_texts: Sequence[str], encoder: Any, *,
               top_k: int = 20, max_queries: int = 300) -> dict[str, Any]:
    """Build and query the naive script; query time measured on ``max_queries`` queries
    one at a time and extrapolated to all of them."""
    import bm25s
    import faiss
    import jieba

    out: dict[str, Any] = {"documents": len(doc_texts), "queries": len(query_texts)}
    t0 = time.perf_counter()
    toks = jieba_tokens(doc_texts)
    out["tokenize_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    bm = bm25s.BM25()
    bm.index([t or [""] for t in toks], show_progress=False)
    out["bm25_index_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    model = getattr(encoder, "model", None)
    if model is not None:  # a plain SentenceTransformer, as the naive script would use
        vecs = model.encode(list(doc_texts), batch_size=64, normalize_embeddings=True,
                            convert_to_numpy=True).astype(np.float32)
    else:
        vecs = np.asarray(encoder.encode_documents(list(doc_texts)), dtype=np.float32)
    out["encode_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    out["faiss_s"] = time.perf_counter() - t3
    out["build_s"] = time.perf_counter() - t0
    sample = list(query_texts[:max_queries])
    lat = []
    for q in sample:
        s = time.perf_counter()
        qt = [t for t in jieba.lcut_for_search(q) if t.strip()] or [""]
        docs, _ = bm.retrieve([qt], k=min(top_k, len(doc_texts)), show_progress=False)
        qv = (model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
              if model is not None else encoder.encode_queries([q])).astype(np.float32)
        _, ids = index.search(qv, min(top_k, len(doc_texts)))
        _rrf(docs[0].tolist(), ids[0].tolist())
        lat.append(time.perf_counter() - s)
    out.update(percentiles(lat))
    out["measured_queries"] = len(sample)
    out["all_queries_s"] = float(np.mean(lat)) * len(query_texts) if lat else None
    out["all_queries_extrapolated"] = len(sample) < len(query_texts)
    return out


def bm25s_peer(doc_tokens: Sequence[Sequence[str]], query_tokens: Sequence[Sequence[str]], *,
               top_k: int = 20) -> dict[str, Any]:
    import bm25s

    t0 = time.perf_counter()
    bm = bm25s.BM25()
    bm.index([list(t) or [""] for t in doc_tokens], show_progress=False)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    bm.retrieve([list(q) or [""] for q in query_tokens], k=min(top_k, len(doc_tokens)),
                show_progress=False)
    return {"build_s": build, "all_queries_s": time.perf_counter() - t1,
            "queries": len(query_tokens), "documents": len(doc_tokens)}


def rank_bm25_peer(doc_tokens: Sequence[Sequence[str]], query_tokens: Sequence[Sequence[str]], *,
                   sample_docs: int = 2000, sample_queries: int = 20) -> dict[str, Any]:
    """BM25Okapi on the first ``sample_docs`` documents, scored for ``sample_queries``
    queries; build and query time scaled linearly to the full corpus and query set."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        return {"error": "rank_bm25 is not installed (pip install rank-bm25)"}
    n, q = len(doc_tokens), len(query_tokens)
    nd, nq = min(sample_docs, n), min(sample_queries, q)
    t0 = time.perf_counter()
    bm = BM25Okapi([list(t) or [""] for t in doc_tokens[:nd]])
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    for qt in query_tokens[:nq]:
        scores = bm.get_scores(list(qt))
        np.argsort(-scores)[:20]
    per_query = (time.perf_counter() - t1) / max(nq, 1)
    scale = n / nd
    return {"sample_documents": nd, "sample_queries": nq, "documents": n, "queries": q,
            "build_s": build * scale, "per_query_s": per_query * scale,
            "all_queries_s": per_query * scale * q, "extrapolated": nd < n or nq < q}


def percentiles(lat: Sequence[float]) -> dict[str, float | None]:
    if not lat:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    a = np.asarray(lat) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "p99_ms": float(np.percentile(a, 99))}
