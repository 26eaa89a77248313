"""FAISS inner-product index over L2-normalised vectors, filtered inside the search.

Index kind: ``IndexFlatIP`` (exact) up to ``DenseConfig.flat_max_rows`` rows (default
200 000: at d=384 that is ~300 MB of vectors and a few ms per query on 2 cores), HNSW
above it; ``kind="flat"|"hnsw"`` forces one. Row ``i`` of the index is row ``i`` of the
side (the row <-> id map is the side's ``ids`` list), so FAISS labels are rows.

Filtering: a boolean row mask becomes a ``faiss.IDSelectorBitmap`` passed through
``SearchParameters``, so FAISS only ever considers rows that pass and a narrow filter
still returns k results (flat: exact, ~1 ms for 15k x 256 with half the rows passing).
HNSW can under-deliver with very selective filters (the graph walk dies out); when few
rows pass (``exact_below``) or it returns fewer than ``min(k, rows passing)`` results,
the search falls back to an exact product over the passing rows.

``vectors.npy`` is saved next to the index so it can be memory-mapped for batch GEMM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.errors import BundleIntegrityError, ConfigError

VECTORS_FILE = "vectors.npy"
INDEX_FILE = "faiss.index"


@dataclass(frozen=True)
class DenseConfig:
    kind: str = "auto"  # "auto" | "flat" | "hnsw"
    flat_max_rows: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    # HNSW only: with at most this many rows passing a filter, score them exactly (numpy)
    exact_below: int = 20_000

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "flat", "hnsw"):
            raise ConfigError(f"dense index kind must be auto|flat|hnsw, got {self.kind!r}")

    def resolved_kind(self, n_rows: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "flat" if n_rows <= self.flat_max_rows else "hnsw"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DenseConfig:
        return cls(**dict(d))


def _as_matrix(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v.reshape(1, -1)
    if v.ndim != 2 or (dim is not None and v.shape[1] != dim):
        raise ConfigError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return v


class DenseIndex:
    def __init__(self, vectors: np.ndarray, index: Any, config: DenseConfig) -> None:
        self.vectors = vectors  # (n, d) float32, possibly a read-only memmap
        self.index = index
        self.config = config

    @property
    def n_rows(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def kind(self) -> str:
        return "hnsw" if "HNSW" in type(self.index).__name__ else "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, config: DenseConfig = DenseConfig()) -> DenseIndex:
        import faiss

        v = _as_matrix(vectors)
        d = v.shape[1]
        if config.resolved_kind(len(v)) == "hnsw":
            index = faiss.IndexHNSWFlat(d, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.hnsw_ef_construction
            index.hnsw.efSearch = config.hnsw_ef_search
        else:
            index = faiss.IndexFlatIP(d)
        if len(v):
            index.add(v)
        return cls(v, index, config)

    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if rows is None:
            s = self.vectors @ q
            cand = np.arange(len(s))
        else:
            s = self.vectors[rows] @ q
            cand = rows
        if len(cand) > k:
            part = np.argpartition(-s, k - 1)[:k]
            s, cand = s[part], cand[part]
        order = np.lexsort((cand, -s))
        return cand[order].astype(np.int64), s[order].astype(np.float32)

    def search(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, cosine scores), best first, among rows passing ``mask``."""
        import faiss

        q = _as_matrix(vector, self.dimension)[0]
        n = self.n_rows
        if mask is not None and mask.shape != (n,):
            raise ConfigError(f"mask must have shape ({n},), got {mask.shape}")
        passing = n if mask is None else int(mask.sum())
        k = min(int(k), passing)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        # flat + IDSelector is exact and ~15x faster than gathering rows in numpy; only
        # HNSW, whose graph walk may die out under a selective filter, goes exact
        if mask is not None and self.kind == "hnsw" and passing <= self.config.exact_below:
            return self._exact(q, k, np.flatnonzero(mask))
        params = None
        bits = None
        if mask is not None:
            bits = np.packbits(mask.astype(bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(
                    sel=sel, efSearch=max(self.config.hnsw_ef_search, k))
            else:
                params = faiss.SearchParameters(sel=sel)
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.config.hnsw_ef_search, k))
        scores, labels = self.index.search(q.reshape(1, -1), k, params=params)
        del bits  # the selector points into it: keep it alive until after the search
        keep = labels[0] >= 0
        rows, s = labels[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
        if len(rows) < k:  # HNSW under-delivered: exact over the passing rows instead
            return self._exact(q, k, None if mask is None else np.flatnonzero(mask))
        return rows, s

    # --- persistence ----------------------------------------------------------------
    def save(self, directory: Path) -> list[Path]:
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        vpath, ipath = directory / VECTORS_FILE, directory / INDEX_FILE
        np.save(vpath, np.ascontiguousarray(self.vectors, dtype=np.float32))
        if self.kind == "hnsw":
            faiss.write_index(self.index, str(ipath))
            return [vpath, ipath]
        return [vpath]

    @classmethod
    def load(cls, directory: Path, config: DenseConfig = DenseConfig(), *,
             mmap: bool = True) -> DenseIndex:
        """Vectors are memory-mapped; a flat index is rebuilt from them (adding n
        vectors costs a copy, not a training step), an HNSW graph is read from disk."""
        import faiss

        vpath, ipath = directory / VECTORS_FILE, directory / INDEX_FILE
        try:
            vectors = np.load(vpath, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise BundleIntegrityError(f"cannot read {vpath}: {exc}",
                                       details={"path": str(vpath)}) from exc
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise BundleIntegrityError(
                f"{vpath} must hold a float32 (n, d) matrix, got {vectors.dtype} {vectors.shape}")
        if ipath.exists():
            try:
                index = faiss.read_index(str(ipath))
            except RuntimeError as exc:
                raise BundleIntegrityError(f"cannot read {ipath}: {exc}",
                                           details={"path": str(ipath)}) from exc
            if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
                raise BundleIntegrityError(
                    f"{ipath} holds {index.ntotal}x{index.d} but vectors are {vectors.shape}")
        else:
            index = faiss.IndexFlatIP(vectors.shape[1])
            if len(vectors):
                index.add(np.ascontiguousarray(vectors))
        return cls(vectors, index, config)


__all__ = ["DenseConfig", "DenseIndex"]
