"""Batch jobs: matrix kernels equal the single-query path; resume equals uninterrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from indexing.index.filters import Filters
from matcher.batch import OUTPUT_COLUMNS, run_batch
from matcher.jobplan import job_dir_for
from matcher.kernels import dense_topk, lexical_topk, topk_rows
from matcher.queries import Queries, queries_from_side
from matcher.config import FusionConfig
from patmatch.errors import ConflictError, InputError

FUSION = FusionConfig(candidates=20, depth=30)


def test_topk_rows_ties_mask_and_padding() -> None:
    s = np.array([[1.0, 3.0, 3.0, -np.inf], [0.0, 0.0, 2.0, 1.0]], dtype=np.float32)
    rows, sc = topk_rows(s, 3)
    assert rows.tolist() == [[1, 2, 0], [2, 3, 0]]
    rows, _ = topk_rows(s, 4, positive_only=True)
    assert rows.tolist() == [[1, 2, 0, -1], [2, 3, -1, -1]]


def test_kernels_equal_single_query_search(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any) -> None:
    side = tiny_bundle.patents
    texts = ["锂电池低温放电", "光伏支架", "机器人焊接夹具"]
    toks = [tokenizer.tokenize(t) for t in texts]
    mask = side.mask(Filters(applicant_types=("university", "soe")))
    lr, ls = lexical_topk(side.query_matrix(toks), side.lexical_matrix(), 5, mask)
    vecs = tiny_encoder.encode_queries(texts)
    dr, ds = dense_topk(vecs, side.vectors, 5, mask)
    for i, t in enumerate(toks):
        r, s = side.search_lexical(t, 5, mask)
        assert lr[i][lr[i] >= 0].tolist() == r.tolist()
        np.testing.assert_allclose(ls[i][: len(s)], s, rtol=1e-5)
        r, s = side.search_dense(vecs[i], 5, mask)
        assert dr[i].tolist() == r.tolist()
        np.testing.assert_allclose(ds[i], s, rtol=1e-5, atol=1e-6)


def test_batch_rows_equal_interactive_lists(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any,
                                            ranker: Any, tmp_path: Path) -> None:
    q = queries_from_side(tiny_bundle.demands, "demands")
    out = tmp_path / "m.parquet"
    rep = run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=5, fusion=FUSION,
                    block_size=5, progress=False)
    df = pl.read_parquet(out)
    from matcher.record_facts import FACT_COLUMNS

    # the stable columns, then the patent's facts (grade, TRL, licence terms, applicant ...)
    assert tuple(df.columns) == OUTPUT_COLUMNS + FACT_COLUMNS
    assert rep.rows == df.height == 5 * len(q.ids)
    for qid in q.ids:
        got = df.filter(pl.col("demand_id") == qid).sort("rank")
        deep = ranker.match_demand(qid, limit=20, explain=False)
        ref = deep.items[:5]
        # same list; BM25 sums may differ in the last float32 bit (summation order), so
        # records whose fused scores tie may swap places, nothing else
        np.testing.assert_allclose(got["score"].to_numpy(), [m.score for m in ref], rtol=1e-5)
        for a, b, sc in zip(got["patent_id"], [m.record_id for m in ref], got["score"]):
            if a != b:
                other = next((m.score for m in deep if m.record_id == a), -1.0)
                assert abs(other - sc) < 1e-5, (qid, a, b)
    assert not job_dir_for(out).exists()


@pytest.mark.parametrize("fmt", [".parquet", ".csv", ".xlsx"])
def test_resume_after_kill_equals_uninterrupted(tiny_bundle: Any, tokenizer: Any,
                                                tiny_encoder: Any, tmp_path: Path, fmt: str) -> None:
    q = queries_from_side(tiny_bundle.demands, "demands")
    kw = dict(top_k=4, fusion=FUSION, block_size=3, progress=False)
    ref = tmp_path / f"ref{fmt}"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=ref, **kw)
    out = tmp_path / f"out{fmt}"

    class Boom(Exception):
        pass

    def kill_after(blocks: int) -> Any:  # a kill once ``blocks`` blocks are written
        def on_block(done: int, total: int) -> None:
            if done >= blocks * kw["block_size"]:
                raise Boom
        return on_block

    with pytest.raises(Boom):
        run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, on_block=kill_after(2), **kw)
    assert not out.exists() and job_dir_for(out).exists()

    class Flaky:  # a crash in the middle of block 3 (nothing of it may be kept)
        calls = 0

        def tokenize(self, text: str) -> list[str]:
            Flaky.calls += 1
            if Flaky.calls > 4:
                raise Boom
            return tokenizer.tokenize(text)

    with pytest.raises(Boom):
        run_batch(tiny_bundle, Flaky(), tiny_encoder, q, out=out, resume=True, **kw)
    rep = run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, resume=True, **kw)
    assert rep.resumed_blocks == 3
    if fmt == ".xlsx":
        assert pl.read_excel(out).equals(pl.read_excel(ref))
    else:
        assert out.read_bytes() == ref.read_bytes()


def test_resume_refuses_other_options(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any,
                                      tmp_path: Path) -> None:
    q = queries_from_side(tiny_bundle.demands, "demands")
    out = tmp_path / "o.parquet"

    def kill(done: int, total: int) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=4, block_size=3,
                  progress=False, on_block=kill)
    with pytest.raises(ConflictError):
        run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=5, block_size=3,
                  progress=False, resume=True)


def test_chain_filter_and_reverse_direction(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any,
                                            tmp_path: Path) -> None:
    q = Queries(["x1"], ["光伏电站支架安装"], ["光伏"], [["pv"]], None)
    out = tmp_path / "f.csv"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=3,
              filters=Filters(chains=("pv",)), progress=False)
    df = pl.read_csv(out)
    assert df.height == 3 and "demand_title" in df.columns
    assert all("pv" in c for c in df["chain"].to_list())
    pq = queries_from_side(tiny_bundle.patents, "patents", Filters(chains=("pv",)))
    out2 = tmp_path / "r.parquet"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, pq, out=out2, top_k=2,
              direction="patent-to-demand", progress=False)
    df2 = pl.read_parquet(out2)
    assert set(df2["patent_id"]) == set(pq.ids)
    assert df2.filter(pl.col("rank") == 1)["demand_id"].str.starts_with("Dpv").all()
    with pytest.raises(InputError):
        run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=tmp_path / "x.txt", progress=False)


@pytest.mark.parametrize("common_df", [0.0, 0.05, 1.0])
def test_lexical_scorer_split_is_exact(tiny_bundle: Any, tokenizer: Any, common_df: float) -> None:
    from matcher.kernels import LexicalScorer

    side = tiny_bundle.patents
    qm = side.query_matrix([tokenizer.tokenize(t) for t in ("锂电池低温放电", "光伏支架", "细胞")])
    plain = (qm @ side.lexical_matrix().T).toarray()
    scorer = LexicalScorer(side.sparse.matrix, common_df=common_df)
    np.testing.assert_allclose(scorer.scores(qm), plain, rtol=1e-5, atol=1e-5)


def test_bounded_fusion_batch_equals_interactive(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any,
                                                 ranker: Any, tmp_path: Path) -> None:
    """The per-query lexical bound is the same number on both paths (term_max over the
    query's terms), so batch rows equal the ranker's list under bounded fusion too."""
    fusion = FusionConfig(method="linear", weights=(1.0, 0.5), lexical_bound=0.4)
    side = tiny_bundle.patents
    dense = side.sparse.matrix.toarray()
    np.testing.assert_allclose(side.sparse.term_max, dense.max(axis=0), rtol=1e-6)
    toks = ["电池", "电池", "不存在的词"]
    qm = side.query_matrix([toks])
    from matcher.kernels import lexical_bounds

    assert lexical_bounds(side, qm, fusion)[0] == pytest.approx(0.4 * side.sparse.query_bound(toks))
    q = queries_from_side(tiny_bundle.demands, "demands")
    out = tmp_path / "b.parquet"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=5, fusion=fusion,
              block_size=5, progress=False)
    df = pl.read_parquet(out)
    for qid in q.ids:
        got = df.filter(pl.col("demand_id") == qid).sort("rank")
        deep = ranker.match_demand(qid, limit=20, explain=False, fusion=fusion)
        ref = deep.items[:5]
        np.testing.assert_allclose(got["score"].to_numpy(), [m.score for m in ref], rtol=1e-5)
        for a, b, sc in zip(got["patent_id"], [m.record_id for m in ref], got["score"]):
            if a != b:  # float32 summation order may swap records whose scores tie
                assert abs(next(m.score for m in deep if m.record_id == a) - sc) < 1e-5, (qid, a, b)
