from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

from indexing.index.sparse import SparseConfig, SparseIndex
from patmatch.errors import ConfigError

VOCAB = [f"t{i}" for i in range(60)]


def corpus(n: int, lo: int, hi: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(VOCAB) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def reference(docs: list[list[str]], cfg: SparseConfig = SparseConfig()) -> bm25s.BM25:
    m = bm25s.BM25(method=cfg.method, k1=cfg.k1, b=cfg.b)
    m.index(docs, show_progress=False)
    return m


QUERIES = [["t1", "t3", "t3", "nope"], ["t59"], ["t7", "t8", "t9", "t10"]]


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_single_field_scores_equal_bm25s(method: str) -> None:
    docs = corpus(150, 1, 25, 0)
    cfg = SparseConfig(method=method, k1=1.2, b=0.6)
    idx, ref = SparseIndex.build({"text": docs}, {"text": 1.0}, cfg), reference(docs, cfg)
    for q in QUERIES:
        assert np.array_equal(idx.scores(q), ref.get_scores(q))


def test_field_weights_sum_per_field_bm25() -> None:
    title, body = corpus(100, 1, 5, 1), corpus(100, 5, 30, 2)
    body[3] = []  # an empty field in one document
    idx = SparseIndex.build({"title": title, "body": body, "off": title},
                            {"title": 2.0, "body": 0.5, "off": 0.0})
    rt, rb = reference(title), reference(body)
    for q in QUERIES:
        np.testing.assert_allclose(idx.scores(q), 2.0 * rt.get_scores(q) + 0.5 * rb.get_scores(q),
                                   rtol=1e-5, atol=1e-6)
    assert idx.field_weights == {"title": 2.0, "body": 0.5}


def test_batch_matrix_gives_the_same_scores() -> None:
    idx = SparseIndex.build({"a": corpus(80, 2, 20, 3), "b": corpus(80, 0, 4, 4)},
                            {"a": 1.0, "b": 3.0})
    q = idx.query_matrix(QUERIES)
    assert q.shape == (len(QUERIES), len(idx.vocab))
    dense = (q @ idx.doc_matrix().T).toarray()
    for i, toks in enumerate(QUERIES):
        np.testing.assert_allclose(dense[i], idx.scores(toks), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(idx.batch_scores(QUERIES).toarray(), dense, rtol=1e-6)


def test_search_topk_order_and_mask() -> None:
    docs = corpus(200, 3, 20, 5)
    idx = SparseIndex.build({"t": docs}, {"t": 1.0})
    s = idx.scores(["t1", "t2"])
    rows, scores = idx.search(["t1", "t2"], 10)
    assert len(rows) == 10 and np.all(np.diff(scores) <= 0)
    assert scores[0] == s.max()
    mask = np.zeros(200, dtype=bool)
    hits = np.flatnonzero(s > 0)
    mask[hits[-3:]] = True
    rows, scores = idx.search(["t1", "t2"], 10, mask)
    assert sorted(rows.tolist()) == sorted(hits[-3:].tolist())  # all 3 passing hits, no more
    assert idx.search(["nothing"], 5)[0].size == 0
    with pytest.raises(ConfigError):
        idx.search(["t1"], 5, np.ones(3, dtype=bool))


def test_save_load_round_trip(tmp_path: Path) -> None:
    idx = SparseIndex.build({"t": corpus(50, 1, 10, 6)}, {"t": 1.5}, SparseConfig(k1=1.1))
    idx.save(tmp_path)
    back = SparseIndex.load(tmp_path)
    assert back.vocab == idx.vocab and back.config == idx.config
    assert np.array_equal(back.scores(["t1", "t5"]), idx.scores(["t1", "t5"]))
    # the matrix arrays are views of read-only memory maps (pages shared by API workers)
    for part in (back.matrix.data, back.matrix.indices, back.matrix.indptr):
        base = part
        while not isinstance(base, np.memmap) and getattr(base, "base", None) is not None:
            base = base.base
        assert isinstance(base, np.memmap) and not part.flags.writeable
    assert back.search(["t1"], 3)[0].tolist() == idx.search(["t1"], 3)[0].tolist()


def test_load_reads_the_older_npz_layout(tmp_path: Path) -> None:
    import scipy.sparse as sp

    idx = SparseIndex.build({"t": corpus(30, 1, 8, 5)}, {"t": 1.0})
    idx.save(tmp_path)
    for name in ("bm25_data.npy", "bm25_indices.npy", "bm25_indptr.npy"):
        (tmp_path / name).unlink()
    sp.save_npz(tmp_path / "bm25.npz", idx.matrix, compressed=False)
    back = SparseIndex.load(tmp_path)
    assert np.array_equal(back.scores(["t2"]), idx.scores(["t2"]))


def test_bad_method_and_misaligned_fields() -> None:
    with pytest.raises(ConfigError):
        SparseConfig(method="bm25l")
    with pytest.raises(ConfigError):
        SparseIndex.build({"a": [["x"]], "b": [["y"], ["z"]]}, {"a": 1, "b": 1})


def test_empty_corpus() -> None:
    idx = SparseIndex.build({"t": []}, {"t": 1.0})
    assert idx.n_docs == 0 and idx.search(["a"], 3)[0].size == 0


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_vectorised_field_matrix_equals_bm25s_bit_for_bit(method: str) -> None:
    from indexing.index.sparse import field_matrix

    rng = np.random.default_rng(7)
    # Zipf-like term ids with repeats inside documents, and some empty documents
    docs = [rng.zipf(1.3, rng.integers(0, 60)).clip(1, 400).astype(int) - 1 for _ in range(300)]
    cfg = SparseConfig(method=method, k1=1.3, b=0.7)
    ref = bm25s.BM25(method=method, k1=cfg.k1, b=cfg.b).build_index_from_ids(
        unique_token_ids=list(range(400)), corpus_token_ids=[d.tolist() for d in docs],
        show_progress=False)
    import scipy.sparse as sp

    want = sp.csc_matrix((ref["data"], ref["indices"], ref["indptr"]), shape=(300, 400))
    rows = np.repeat(np.arange(300), [len(d) for d in docs])
    got = field_matrix(rows, np.concatenate(docs), 300, 400, cfg)
    assert got.dtype == np.float32 and got.nnz == want.nnz
    assert np.array_equal(got.toarray(), want.toarray())
