"""FAISS inner-product index over L2-normalised vectors, filtered inside the search.

Index kind: ``IndexFlatIP`` (exact) up to ``DenseConfig.flat_max_rows`` rows, above it the
compressed ``DenseConfig.compressed_kind`` (default ``hnsw_sq8``: an HNSW graph over 8-bit
scalar-quantised vectors, a quarter of the float32 bytes; its recall@100 against exact
search on the shared tasks padded to 100k is in benchmarks/results/ann_recall-100k.md).
``kind=`` forces one of ``KINDS``: ``flat``, ``hnsw`` (graph over float32), ``hnsw_sq8``,
``ivf_sq8`` / ``ivf_pq`` (inverted lists, coarse centroids and the quantiser trained on a
deterministic sample of ``train_sample`` rows). Row ``i`` of the index is row ``i`` of the
side (the row <-> id map is the side's ``ids`` list), so FAISS labels are rows.

Filtering: a boolean row mask becomes a ``faiss.IDSelectorBitmap`` passed through
``SearchParameters``, so FAISS only ever considers rows that pass and a narrow filter
still returns k results (flat: exact, ~1 ms for 15k x 256 with half the rows passing).
HNSW can under-deliver with very selective filters (the graph walk dies out); when few
rows pass (``exact_below``) or it returns fewer than ``min(k, rows passing)`` results,
the search falls back to an exact product over the passing rows.

``vectors.npy`` is saved next to the index (batch GEMM, exact fallback, reasons). Both are
opened memory-mapped (``np.load(mmap_mode="r")``, ``faiss.IO_FLAG_MMAP_IFC``), so the API
workers serving one bundle share the pages instead of each holding a copy.
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


KINDS = ("flat", "hnsw", "hnsw_sq8", "ivf_sq8", "ivf_pq")
# FAISS class name -> kind (what a loaded index is, whatever the config says)
_KIND_OF = {"IndexFlatIP": "flat", "IndexHNSWFlat": "hnsw", "IndexHNSWSQ": "hnsw_sq8",
            "IndexIVFScalarQuantizer": "ivf_sq8", "IndexIVFPQ": "ivf_pq"}


@dataclass(frozen=True)
class DenseConfig:
    kind: str = "auto"  # "auto" or one of KINDS
    # auto: exact up to this many rows, ``compressed_kind`` above (the configurable size)
    flat_max_rows: int = 200_000
    compressed_kind: str = "hnsw_sq8"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    ivf_nlist: int = 0  # 0 = 4 * sqrt(rows), at least 16
    ivf_nprobe: int = 32
    pq_m: int = 32  # ivf_pq: sub-quantisers (bytes per vector)
    train_sample: int = 50_000  # rows the quantiser / coarse centroids are trained on
    # approximate kinds fetch k * refine_factor rows and keep the best k by their exact
    # cosine (the float32 vectors, memory-mapped): this repairs the quantisation error,
    # which alone held recall@100 to 0.92 at 100k; 4 gave 0.978 but nDCG@10 -0.005 on
    # demands_dev, 8 gives 0.990 (benchmarks/results/ann_recall-100k.md)
    refine_factor: int = 8
    seed: int = 0
    # approximate kinds: with at most this many rows passing a filter, score them exactly
    exact_below: int = 20_000

    def __post_init__(self) -> None:
        if self.kind not in ("auto", *KINDS):
            raise ConfigError(f"dense index kind must be auto|{'|'.join(KINDS)}, got {self.kind!r}")
        if self.compressed_kind not in KINDS:
            raise ConfigError(f"compressed_kind must be one of {KINDS}, got {self.compressed_kind!r}")
        if min(self.hnsw_m, self.hnsw_ef_search, self.ivf_nprobe, self.pq_m,
               self.train_sample, self.refine_factor) < 1 or self.ivf_nlist < 0 or self.flat_max_rows < 0:
            raise ConfigError("dense index sizes must be positive (ivf_nlist, flat_max_rows >= 0)")

    def resolved_kind(self, n_rows: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "flat" if n_rows <= self.flat_max_rows else self.compressed_kind

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
        return _KIND_OF.get(type(self.index).__name__, "flat")

    @property
    def approximate(self) -> bool:
        return self.kind != "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, config: DenseConfig = DenseConfig()) -> DenseIndex:
        v = _as_matrix(vectors)
        index = _new_index(config.resolved_kind(len(v)), v, config)
        if len(v):
            index.add(v)
        return cls(v, index, config)

    def _params(self, k: int, sel: Any) -> Any:
        import faiss

        kind = self.kind
        if kind.startswith("hnsw"):
            return faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.config.hnsw_ef_search, k))
        if kind.startswith("ivf"):
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.config.ivf_nprobe)
        return None if sel is None else faiss.SearchParameters(sel=sel)

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
        # an approximate index (an HNSW walk may die out under a selective filter, an IVF
        # probe may find too few passing rows) goes exact for a narrow filter
        if mask is not None and self.approximate and passing <= self.config.exact_below:
            return self._exact(q, k, np.flatnonzero(mask))
        sel = bits = None
        if mask is not None:
            bits = np.packbits(mask.astype(bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        fetch = min(k * self.config.refine_factor, passing) if self.approximate else k
        scores, labels = self.index.search(q.reshape(1, -1), fetch,
                                           params=self._params(fetch, sel))
        del bits  # the selector points into it: keep it alive until after the search
        keep = labels[0] >= 0
        rows, s = labels[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
        if len(rows) < k:  # the approximate index under-delivered: exact over the passing rows
            return self._exact(q, k, None if mask is None else np.flatnonzero(mask))
        if self.approximate:  # quantised scores -> the exact cosines, the best k of them
            rows = np.sort(rows)
            s = np.asarray(self.vectors[rows] @ q, dtype=np.float32)
            order = np.lexsort((rows, -s))[:k]
            rows, s = rows[order], s[order]
        return rows, s

    # --- persistence ----------------------------------------------------------------
    def save(self, directory: Path) -> list[Path]:
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        vpath, ipath = directory / VECTORS_FILE, directory / INDEX_FILE
        np.save(vpath, np.ascontiguousarray(self.vectors, dtype=np.float32))
        # the flat index is written too (the same floats again): read memory-mapped it is
        # shared by every worker, where rebuilding it from the vectors cost a private copy
        faiss.write_index(self.index, str(ipath))
        return [vpath, ipath]

    @classmethod
    def load(cls, directory: Path, config: DenseConfig = DenseConfig(), *,
             mmap: bool = True) -> DenseIndex:
        """Vectors and index are memory-mapped (``mmap``); a bundle written before flat
        indexes were saved rebuilds its flat index from the vectors (a private copy)."""
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
                index = faiss.read_index(str(ipath), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
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


def _new_index(kind: str, v: np.ndarray, config: DenseConfig) -> Any:
    """An empty FAISS index of ``kind`` for ``v``'s dimension, trained when it needs to be
    on a deterministic sample of ``v`` (scalar-quantiser ranges, coarse centroids, PQ)."""
    import faiss

    n, d = v.shape
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        return faiss.IndexFlatIP(d)
    if kind in ("hnsw", "hnsw_sq8"):
        index = (faiss.IndexHNSWFlat(d, config.hnsw_m, ip) if kind == "hnsw" else
                 faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, config.hnsw_m, ip))
        index.hnsw.efConstruction = config.hnsw_ef_construction
        index.hnsw.efSearch = config.hnsw_ef_search
    else:
        nlist = config.ivf_nlist or max(16, int(4 * np.sqrt(max(n, 1))))
        nlist = max(1, min(nlist, n // 39 or 1))  # FAISS wants >= 39 training rows per list
        coarse = faiss.IndexFlatIP(d)
        if kind == "ivf_sq8":
            index = faiss.IndexIVFScalarQuantizer(coarse, d, nlist, faiss.ScalarQuantizer.QT_8bit, ip)
        else:
            if d % config.pq_m:
                raise ConfigError(f"pq_m={config.pq_m} must divide the dimension {d}")
            index = faiss.IndexIVFPQ(coarse, d, nlist, config.pq_m, 8, ip)
        index.cp.seed = config.seed
        index.nprobe = config.ivf_nprobe  # (faiss's wrapper keeps ``coarse`` alive)
    if n and not index.is_trained:
        rng = np.random.default_rng(config.seed)
        take = np.sort(rng.choice(n, size=min(n, config.train_sample), replace=False))
        index.train(np.ascontiguousarray(v[take]))
    return index


__all__ = ["KINDS", "DenseConfig", "DenseIndex"]
