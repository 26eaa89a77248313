"""Speed paths equal their reference paths exactly: FAISS-heap top-k vs argpartition,
pipelined batch vs one block at a time, memoised explanations, cached highlights, and the
single-thread FAISS query search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexing.index.filters import Filters
from matcher.batch import run_batch
from matcher.queries import queries_from_side
from matcher.config import FusionConfig
from matcher.explain import find_highlights
from matcher.kernels import _partition_topk, topk_rows


def _reference(scores: np.ndarray, k: int, positive_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pre-heap implementation: argpartition + full sort, ties by column."""
    b, n = scores.shape
    k = min(k, n)
    part, s = (_partition_topk(scores, k) if k < n
               else (np.broadcast_to(np.arange(n), (b, n)).copy(), scores.copy()))
    order = np.lexsort((part, -s), axis=1)
    rows = np.take_along_axis(part, order, axis=1)
    s = np.take_along_axis(s, order, axis=1)
    bad = ~np.isfinite(s) | ((s <= 0) if positive_only else False)
    return np.where(bad, -1, rows), np.where(bad, np.nan, s).astype(np.float32)


@settings(max_examples=150, deadline=None)
@given(b=st.integers(1, 6), n=st.integers(1, 40), k=st.integers(1, 45),
       levels=st.integers(1, 6), masked=st.floats(0, 1), positive_only=st.booleans(),
       seed=st.integers(0, 2**16))
def test_heap_topk_equals_argpartition(b: int, n: int, k: int, levels: int, masked: float,
                                       positive_only: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # few distinct levels: ties everywhere, including across the cut; zeros and -inf too
    s = (rng.integers(-1, levels, (b, n)).astype(np.float32) / 2)
    s[rng.random((b, n)) < masked] = -np.inf
    rows, sc = topk_rows(s, k, positive_only=positive_only)
    ref_rows, ref_sc = _reference(s, k, positive_only)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(sc, ref_sc)


def test_heap_topk_on_realistic_block() -> None:
    rng = np.random.default_rng(3)
    s = rng.standard_normal((64, 5000)).astype(np.float32)
    s[:, 100:200] = s[:, 100:101]  # a tie group straddling the cut in every row
    s[:, ::7] = -np.inf
    for k in (1, 50, 200, 4999):
        rows, sc = topk_rows(s, k)
        ref_rows, ref_sc = _reference(s, k, False)
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(sc, ref_sc)


def test_float64_input_takes_the_reference_path() -> None:
    s = np.array([[1.0, 3.0, 3.0, 2.0]])
    rows, _ = topk_rows(s, 2)
    assert rows.tolist() == [[1, 2]]


@pytest.mark.parametrize("filters", [None, Filters(chains=("pv", "biomedicine"))])
def test_pipelined_batch_equals_block_by_block(tiny_bundle: Any, tokenizer: Any,
                                               tiny_encoder: Any, tmp_path: Path,
                                               filters: Filters | None) -> None:
    """run_batch ranks block b + 1 in a thread while explaining block b; the rows must be
    those of calling the (sequential) ``BlockRanker.block`` on each block in order."""
    from matcher.batch import BlockRanker

    q = queries_from_side(tiny_bundle.demands, "demands")
    fusion = FusionConfig(candidates=20, depth=30)
    out = tmp_path / "p.parquet"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=6, fusion=fusion,
              block_size=2, progress=False, filters=filters, pipeline=True)
    side = tiny_bundle.patents
    block_ranker = BlockRanker(side, tokenizer, tiny_encoder, q, side.mask(filters or Filters()), fusion,
                   6, "demand-to-patent")
    ref = pl.concat([block_ranker.block_frame(lo, min(lo + 2, len(q.ids))) for lo in range(0, len(q.ids), 2)])
    got = pl.read_parquet(out)
    ref = ref.drop("_query_title", "_target_row")
    assert got.select(ref.columns).equals(ref)  # plus the patents' facts columns
    # memoised reasons are the ones built from scratch
    from matcher.explain import build_reason

    for row in got.iter_rows(named=True):
        terms = row["matched_terms"].split("、") if row["matched_terms"] else []
        qchains = q.chains[q.ids.index(row["demand_id"])]
        tchains = block_ranker.target_chains[side.row_of(row["patent_id"])]
        shared = [c for c in qchains if c in tchains]
        assert row["reason"] == build_reason(terms[:5], None, shared)
        assert row["chain"] == "|".join(shared or tchains)


def test_highlights_page_cache_equals_per_call(ranker: Any, tiny_bundle: Any) -> None:
    """explain_page orders and normalises the query terms once per page; the highlights
    must equal find_highlights per document and field."""
    text = "锂电池低温放电ＡＢＣ储能正极材料"
    got = ranker.match_text(text, limit=8, semantic_reason=False)
    terms = list(got.query_terms)
    for m in got:
        doc = tiny_bundle.patents.doc(tiny_bundle.patents.row_of(m.record_id))
        ref = (find_highlights(doc["title"], terms, "title")
               + find_highlights(doc["abstract"], terms, "abstract"))
        assert list(m.highlights) == ref


def test_find_highlights_overlaps_and_width() -> None:
    hl = find_highlights("锂电池和ＬＩＴＨＩＵＭ锂电", ["锂电", "锂电池", "lithium", "电池"], "t")
    assert [(h.start, h.end, h.term) for h in hl] == [(0, 3, "锂电池"), (4, 11, "ＬＩＴＨＩＵＭ"),
                                                       (11, 13, "锂电")]


def test_query_search_restores_faiss_threads(ranker: Any) -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    ranker.match_text("锂电池低温放电", limit=3, explain=False)
    assert faiss.omp_get_max_threads() == before


def test_query_terms_reuse_tokens(ranker: Any, tiny_bundle: Any) -> None:
    ex = ranker.explainer(tiny_bundle.patents)
    text = "锂电池低温放电，光伏支架"
    assert ex.query_terms(text) == ex.query_terms(text, ranker.tokenizer.tokenize(text))


def test_scratch_buffers_give_the_same_block(tiny_bundle: Any, tokenizer: Any,
                                             tiny_encoder: Any) -> None:
    """Reused score buffers (smaller block after a larger one, masked and not) change
    nothing: rank_block with and without Scratch returns equal arrays."""
    from matcher.kernels import LexicalScorer, Scratch, rank_block

    side = tiny_bundle.patents
    texts = ["锂电池低温放电", "光伏支架", "机器人焊接夹具", "抗体药物注射"]
    toks = [tokenizer.tokenize(t) for t in texts]
    vecs = tiny_encoder.encode_queries(texts)
    scorer = LexicalScorer(side.sparse.matrix)
    fusion = FusionConfig(candidates=10, depth=20)
    scratch = Scratch()
    for lo, hi, flt in ((0, 4, None), (1, 3, Filters(chains=("pv",))), (0, 4, None)):
        mask = side.mask(flt or Filters())
        kw = dict(fusion=fusion, limit=8, mask=mask, doc_matrix=scorer,
                  vectors=np.asarray(side.vectors, dtype=np.float32))
        _, ref = rank_block(side, toks[lo:hi], vecs[lo:hi], **kw)
        _, got = rank_block(side, toks[lo:hi], vecs[lo:hi], scratch=scratch, **kw)
        for key in ref:
            np.testing.assert_array_equal(got[key], ref[key])
