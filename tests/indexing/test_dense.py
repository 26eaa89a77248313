from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.index.dense import DenseConfig, DenseIndex
from patmatch.errors import BundleIntegrityError, ConfigError


def unit(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(v: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    s = v @ q
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    return np.argsort(-s, kind="stable")[:k].tolist()


# exact_below=0 forces the FAISS IDSelector path even for narrow filters
FAISS_PATH = DenseConfig(exact_below=0)


def test_auto_kind_by_size() -> None:
    cfg = DenseConfig(flat_max_rows=100)
    assert DenseIndex.build(unit(100), cfg).kind == "flat"
    assert DenseIndex.build(unit(101), cfg).kind == "hnsw_sq8"  # compressed above the size
    assert DenseIndex.build(unit(101), DenseConfig(flat_max_rows=100, compressed_kind="hnsw")
                            ).kind == "hnsw"
    assert DenseIndex.build(unit(10), DenseConfig(kind="hnsw")).kind == "hnsw"
    with pytest.raises(ConfigError):
        DenseConfig(kind="ivf")
    with pytest.raises(ConfigError):
        DenseConfig(compressed_kind="auto")


def clustered(n: int, d: int = 32, centres: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few topics, like real embeddings (random Gaussian vectors
    in high dimension have no neighbourhood structure for an ANN index to use)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    x = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["hnsw_sq8", "ivf_sq8"])
def test_compressed_recall_against_exact(kind: str) -> None:
    v = clustered(4000)
    q = clustered(60, seed=9)
    exact = DenseIndex.build(v, DenseConfig(kind="flat"))
    approx = DenseIndex.build(v, DenseConfig(kind=kind, train_sample=1000, ivf_nprobe=16))
    assert approx.kind == kind and approx.approximate
    recall = np.mean([len(set(approx.search(x, 100)[0].tolist())
                          & set(exact.search(x, 100)[0].tolist())) / 100 for x in q])
    assert recall >= 0.95, recall
    rows, scores = approx.search(q[0], 10)  # scores are the exact cosines, best first
    np.testing.assert_allclose(scores, v[rows] @ q[0], rtol=1e-5)
    assert np.all(np.diff(scores) <= 0)


def test_compressed_build_is_deterministic() -> None:
    v = clustered(2000, seed=3)
    cfg = DenseConfig(kind="ivf_sq8", train_sample=500)
    a, b = DenseIndex.build(v, cfg), DenseIndex.build(v, cfg)
    assert a.search(v[4], 20)[0].tolist() == b.search(v[4], 20)[0].tolist()


def test_flat_search_is_exact() -> None:
    v = unit(500)
    idx = DenseIndex.build(v, FAISS_PATH)
    rows, scores = idx.search(v[7], 10)
    assert rows.tolist() == brute(v, v[7], 10) and rows[0] == 7
    np.testing.assert_allclose(scores, (v @ v[7])[rows], rtol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "hnsw_sq8", "ivf_sq8"])
def test_narrow_filter_still_returns_k_inside_faiss(kind: str) -> None:
    v = unit(3000, seed=1)
    # (ivf: every list probed, so the filter alone decides what is found)
    idx = DenseIndex.build(v, DenseConfig(kind=kind, exact_below=0, hnsw_m=8, train_sample=500,
                                          ivf_nprobe=10_000))
    mask = np.zeros(3000, dtype=bool)
    mask[np.arange(5, 3000, 97)] = True  # 31 rows pass, scattered
    q = v[1]
    rows, scores = idx.search(q, 10, mask)
    assert len(rows) == 10 and mask[rows].all()
    assert rows.tolist() == brute(v, q, 10, mask)
    assert np.all(np.diff(scores) <= 1e-6)


def test_fewer_passing_rows_than_k() -> None:
    v = unit(200)
    mask = np.zeros(200, dtype=bool)
    mask[[3, 150]] = True
    for cfg in (FAISS_PATH, DenseConfig()):
        rows, _ = DenseIndex.build(v, cfg).search(v[0], 10, mask)
        assert sorted(rows.tolist()) == [3, 150]
    rows, _ = DenseIndex.build(v).search(v[0], 10, np.zeros(200, dtype=bool))
    assert rows.size == 0


def test_exact_fallback_matches_faiss() -> None:
    v = unit(400, seed=2)
    mask = np.random.default_rng(3).random(400) < 0.3
    a = DenseIndex.build(v, FAISS_PATH).search(v[9], 15, mask)  # flat + IDSelector
    b = DenseIndex.build(v, DenseConfig(kind="hnsw", exact_below=10**6)).search(v[9], 15, mask)
    assert a[0].tolist() == b[0].tolist()
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "hnsw_sq8", "ivf_sq8", "ivf_pq"])
def test_save_load_memory_maps_vectors(tmp_path: Path, kind: str) -> None:
    v = clustered(2000, seed=4)
    idx = DenseIndex.build(v, DenseConfig(kind=kind, pq_m=8))
    files = idx.save(tmp_path)
    assert {tmp_path / "vectors.npy", tmp_path / "faiss.index"} <= set(files)
    back = DenseIndex.load(tmp_path, DenseConfig(kind=kind))
    assert isinstance(back.vectors, np.memmap) and back.kind == kind
    assert back.search(v[5], 5)[0].tolist() == idx.search(v[5], 5)[0].tolist()


def test_load_without_index_file_rebuilds_flat(tmp_path: Path) -> None:
    v = unit(50, seed=5)
    DenseIndex.build(v).save(tmp_path)
    (tmp_path / "faiss.index").unlink()  # a bundle written before flat indexes were saved
    back = DenseIndex.load(tmp_path)
    assert back.kind == "flat" and back.search(v[3], 3)[0].tolist() == brute(v, v[3], 3)


def test_bad_inputs(tmp_path: Path) -> None:
    idx = DenseIndex.build(unit(20))
    with pytest.raises(ConfigError):
        idx.search(np.ones(5, dtype=np.float32), 3)
    with pytest.raises(ConfigError):
        idx.search(unit(1)[0], 3, np.ones(4, dtype=bool))
    (tmp_path / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(BundleIntegrityError):
        DenseIndex.load(tmp_path)


def test_empty_index() -> None:
    idx = DenseIndex.build(np.zeros((0, 8), dtype=np.float32))
    assert idx.search(np.ones(8, dtype=np.float32), 5)[0].size == 0
