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
    assert DenseIndex.build(unit(101), cfg).kind == "hnsw"
    assert DenseIndex.build(unit(10), DenseConfig(kind="hnsw")).kind == "hnsw"
    with pytest.raises(ConfigError):
        DenseConfig(kind="ivf")


def test_flat_search_is_exact() -> None:
    v = unit(500)
    idx = DenseIndex.build(v, FAISS_PATH)
    rows, scores = idx.search(v[7], 10)
    assert rows.tolist() == brute(v, v[7], 10) and rows[0] == 7
    np.testing.assert_allclose(scores, (v @ v[7])[rows], rtol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_narrow_filter_still_returns_k_inside_faiss(kind: str) -> None:
    v = unit(3000, seed=1)
    idx = DenseIndex.build(v, DenseConfig(kind=kind, exact_below=0, hnsw_m=8))
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


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_memory_maps_vectors(tmp_path: Path, kind: str) -> None:
    v = unit(300, seed=4)
    idx = DenseIndex.build(v, DenseConfig(kind=kind))
    files = idx.save(tmp_path)
    assert (tmp_path / "vectors.npy") in files
    back = DenseIndex.load(tmp_path, DenseConfig(kind=kind))
    assert isinstance(back.vectors, np.memmap) and back.kind == kind
    assert back.search(v[5], 5)[0].tolist() == idx.search(v[5], 5)[0].tolist()


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
