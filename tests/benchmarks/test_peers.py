from __future__ import annotations

import numpy as np

from benchmarks.bench import gemm_rate
from benchmarks.peers import _rrf, bm25s_peer, jieba_tokens, naive_peer, rank_bm25_peer

DOCS = ["锂离子电池隔膜涂层", "光伏组件清洗机器人", "碳纤维复合材料制备", "工业机器人减速器"] * 5
QUERIES = ["电池隔膜", "光伏清洗", "机器人"]


def test_rank_bm25_extrapolates_linearly_in_corpus_size() -> None:
    dt, qt = jieba_tokens(DOCS), jieba_tokens(QUERIES)
    full = rank_bm25_peer(dt, qt, sample_docs=len(dt))
    part = rank_bm25_peer(dt, qt, sample_docs=5, sample_queries=2)
    assert full["extrapolated"] is False and part["extrapolated"] is True
    assert part["sample_documents"] == 5 and part["documents"] == 20
    assert np.isclose(part["all_queries_s"], part["per_query_s"] * 3)


def test_bm25s_and_naive_peers_run(tiny_encoder) -> None:
    dt, qt = jieba_tokens(DOCS), jieba_tokens(QUERIES)
    b = bm25s_peer(dt, qt, top_k=3)
    assert b["documents"] == 20 and b["queries"] == 3 and b["all_queries_s"] >= 0
    n = naive_peer(DOCS, QUERIES * 4, tiny_encoder, top_k=3, max_queries=5)
    assert n["measured_queries"] == 5 and n["all_queries_extrapolated"] is True
    assert n["p50_ms"] > 0 and n["build_s"] >= n["encode_s"]


def test_rrf_and_gemm_rate() -> None:
    assert _rrf([1, 2], [2, 3])[0] == 2
    assert gemm_rate(8, n=256, q=32, repeats=1) > 0
