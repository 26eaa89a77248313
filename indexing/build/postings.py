"""BM25 postings built chunk by chunk and assembled on disk: the streamed build's lexical
index, equal bit for bit to ``SparseIndex.build(..., extra=<n-gram block>)`` over the
whole corpus at once (``tests/indexing/test_streamed_build.py``).

Pass 1 (``TermBlock.add``, once per chunk of records): each field's term counts of the
chunk are spilled to a ``.npz`` in the work directory, and the corpus statistics BM25
needs are kept as arrays over provisional term ids: document frequency and total length
per field, documents per term over all fields, where each term first occurred.

Pass 2 (``write_postings``): terms get their final column (the order the in-memory build
gives them: words by first occurrence, field by field; n-gram families by code point /
bigram key / first-seen ASCII term, common ones dropped), then every spilled chunk is
weighted with the whole corpus' idf and mean length and scattered into the CSC arrays,
memory-mapped ``.npy`` files, column by column in row order. At no time is more than one
chunk of postings in memory besides those per-term arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexing.index.sparse import (
    PART_FILES, SparseConfig, bm25_idf, bm25_weights, index_dtype, write_meta,
)


def _grow(a: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    if a.size >= size:
        return a
    out = np.full(max(size, 2 * a.size), fill, dtype=a.dtype)
    out[: a.size] = a
    return out


class IdMap:
    """Provisional ids, in order of first sight, of terms that have a dense id already
    (a word's id in the build's word list, ``token_cache.WordList``): a side's word
    space."""

    def __init__(self) -> None:
        self.pid_of = np.full(0, -1, dtype=np.int64)
        self._source: list[np.ndarray] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def ids(self, gids: np.ndarray) -> np.ndarray:
        if not gids.size:
            return gids.astype(np.int64)
        self.pid_of = _grow(self.pid_of, int(gids.max()) + 1, -1)
        new = np.unique(gids[self.pid_of[gids] < 0])
        if new.size:
            self.pid_of[new] = np.arange(self._n, self._n + new.size)
            self._source.append(new)
            self._n += int(new.size)
        return self.pid_of[gids]

    @property
    def source(self) -> np.ndarray:
        """The dense id of each provisional id."""
        return np.concatenate(self._source) if self._source else np.empty(0, dtype=np.int64)


class KeySpace:
    """Provisional ids of integer term keys (``indexing.text.ngrams.CodedCorpus``)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)  # by provisional id
        self._sorted = np.empty(0, dtype=np.uint64)
        self._pid = np.empty(0, dtype=np.int64)  # provisional id of each sorted key

    def __len__(self) -> int:
        return int(self.keys.size)

    def ids(self, keys: np.ndarray) -> np.ndarray:
        u, inverse = np.unique(keys, return_inverse=True)
        pos = np.searchsorted(self._sorted, u)
        hit = pos < self._sorted.size
        hit[hit] = self._sorted[pos[hit]] == u[hit]
        uid = np.empty(u.size, dtype=np.int64)
        uid[hit] = self._pid[pos[hit]]
        new = u[~hit]
        uid[~hit] = np.arange(self.keys.size, self.keys.size + new.size)
        if new.size:
            self.keys = np.concatenate([self.keys, new])
            allk = np.concatenate([self._sorted, new])
            allp = np.concatenate([self._pid, uid[~hit]])
            order = np.argsort(allk, kind="stable")
            self._sorted, self._pid = allk[order], allp[order]
        return uid[inverse.ravel()]


class TermBlock:
    """Fields sharing one term space: the word fields of a side, or one n-gram family.
    ``fields`` in the order the in-memory build sums them (their weights' order)."""

    def __init__(self, name: str, fields: Sequence[str], weights: Mapping[str, float],
                 spill: Path) -> None:
        self.name, self.fields = name, list(fields)
        self.weights = {f: float(weights[f]) for f in self.fields}
        self.spill = spill
        self.n_docs = 0
        self.chunk_rows: list[int] = []
        self.df = {f: np.zeros(0, dtype=np.int64) for f in self.fields}
        self.first = {f: np.full(0, -1, dtype=np.int64) for f in self.fields}
        self.occurrences = dict.fromkeys(self.fields, 0)
        self.length = dict.fromkeys(self.fields, 0)
        self.docs_per_term = np.zeros(0, dtype=np.int64)

    def add(self, coded: Mapping[str, tuple[np.ndarray, np.ndarray]], n: int,
            n_terms: int) -> None:
        """One chunk of ``n`` documents: ``coded[field] = (row, provisional id)`` per term
        occurrence, rows in document order and terms in text order within a document."""
        import scipy.sparse as sp

        parts: dict[str, np.ndarray] = {}
        union = None
        for f in self.fields:
            rows, ids = coded.get(f, (np.empty(0, np.int64), np.empty(0, np.int64)))
            lens = np.bincount(rows, minlength=n)
            tf = sp.csr_matrix((np.ones(ids.size, dtype=np.float32), (rows, ids)),
                               shape=(n, n_terms))
            tf.sum_duplicates()
            self.df[f] = _grow(self.df[f], n_terms)
            self.df[f][:n_terms] += np.bincount(tf.indices, minlength=n_terms)
            self.first[f] = _grow(self.first[f], n_terms, -1)
            if ids.size:
                u, at = np.unique(ids, return_index=True)
                fresh = self.first[f][u] < 0
                self.first[f][u[fresh]] = self.occurrences[f] + at[fresh]
            self.occurrences[f] += int(ids.size)
            self.length[f] += int(lens.sum())
            parts.update({f"{f}.lens": lens.astype(np.int32), f"{f}.indptr": tf.indptr,
                          f"{f}.indices": tf.indices.astype(np.int32),
                          f"{f}.counts": tf.data})
            union = tf if union is None else union + tf
        self.docs_per_term = _grow(self.docs_per_term, n_terms)
        if union is not None:
            self.docs_per_term[:n_terms] += np.bincount(union.indices, minlength=n_terms)
        np.savez(self.spill / f"{self.name}-{len(self.chunk_rows)}.npz", **parts)
        self.chunk_rows.append(n)
        self.n_docs += n

    def first_seen_order(self, n_terms: int) -> np.ndarray:
        """Provisional ids in order of first occurrence over the fields in order, each
        field over all documents in order (the in-memory build's vocabulary order)."""
        field = np.full(n_terms, len(self.fields), dtype=np.int64)
        pos = np.zeros(n_terms, dtype=np.int64)
        for i in range(len(self.fields) - 1, -1, -1):
            first = self.first[self.fields[i]][:n_terms]
            seen = first >= 0
            field[seen], pos[seen] = i, first[seen]
        order = np.lexsort((pos, field))
        return order[field[order] < len(self.fields)]

    def chunk_matrix(self, chunk: int, n_terms: int, config: SparseConfig,
                     stats: Mapping[str, tuple[np.ndarray, float]]) -> Any:
        """(rows of the chunk, n_terms) float32 CSR: the weighted field sum of BM25
        weights, with the corpus' ``stats[field] = (idf, mean length)``."""
        import scipy.sparse as sp

        n = self.chunk_rows[chunk]
        total = None
        with np.load(self.spill / f"{self.name}-{chunk}.npz") as z:
            for f in self.fields:
                if f not in stats:  # no term in the whole corpus: contributes nothing
                    continue
                idf, avg = stats[f]
                indices, indptr = z[f"{f}.indices"], z[f"{f}.indptr"]
                data = bm25_weights(z[f"{f}.counts"], indices, indptr, z[f"{f}.lens"], idf,
                                    avg, config)
                term = np.float32(self.weights[f]) * sp.csr_matrix(
                    (data, indices, indptr), shape=(n, n_terms))
                total = term if total is None else total + term
        return total if total is not None else sp.csr_matrix((n, n_terms), dtype=np.float32)

    def stats(self, n_terms: int, config: SparseConfig) -> dict[str, tuple[np.ndarray, float]]:
        return {f: (bm25_idf(self.df[f][:n_terms], self.n_docs, config),
                    np.float64(self.length[f]) / self.n_docs)
                for f in self.fields if self.occurrences[f]}


class Columns:
    """One block's place in the final matrix: ``col[provisional id]`` (-1: dropped)."""

    def __init__(self, block: TermBlock, n_terms: int, order: np.ndarray,
                 vocab: list[str]) -> None:
        self.block, self.n_terms, self.vocab = block, n_terms, vocab
        self.order = order  # provisional ids of the kept terms, in column order
        self.col = np.full(n_terms, -1, dtype=np.int64)
        self.col[order] = np.arange(order.size)


def write_postings(directory: Path, blocks: Sequence[Columns], n_docs: int,
                   config: SparseConfig) -> dict[str, int]:
    """Pass 2: the CSC arrays (``bm25_data/indices/indptr.npy``) and the vocabulary file
    of the blocks side by side, each block's columns after the previous one's."""
    from numpy.lib.format import open_memmap

    offsets, width = [], 0
    for b in blocks:
        offsets.append(width)
        width += b.order.size
    per_col = np.concatenate([b.block.docs_per_term[: b.n_terms][b.order] for b in blocks]
                             ) if blocks else np.zeros(0, dtype=np.int64)
    nnz = int(per_col.sum())
    dt = index_dtype(nnz, n_docs, width)
    indptr = np.zeros(width + 1, dtype=np.int64)
    np.cumsum(per_col, out=indptr[1:])
    data = open_memmap(directory / PART_FILES["data"], "w+", np.float32, (nnz,))
    indices = open_memmap(directory / PART_FILES["indices"], "w+", dt, (nnz,))
    nxt = indptr[:-1].copy()
    stats = [b.block.stats(b.n_terms, config) for b in blocks]
    chunks = blocks[0].block.chunk_rows if blocks else []
    row0 = 0
    for c, n in enumerate(chunks):
        if c and c % 8 == 0:  # remap: the pages written so far leave the resident set
            data.flush()
            indices.flush()
            del data, indices
            data = np.load(directory / PART_FILES["data"], mmap_mode="r+")
            indices = np.load(directory / PART_FILES["indices"], mmap_mode="r+")
        rows, cols, vals = [], [], []
        for b, off, st in zip(blocks, offsets, stats, strict=True):
            m = b.block.chunk_matrix(c, b.n_terms, config, st)
            col = b.col[m.indices]
            keep = col >= 0
            rows.append(np.repeat(np.arange(n, dtype=np.int64), np.diff(m.indptr))[keep])
            cols.append(col[keep] + off)
            vals.append(m.data[keep])
        _scatter(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                 n, width, row0, nxt, data, indices)
        row0 += n
    if not np.array_equal(nxt, indptr[1:]):  # a counting bug would misplace postings
        raise AssertionError("streamed BM25 postings do not fill their columns")
    data.flush()
    indices.flush()
    del data, indices
    np.save(directory / PART_FILES["indptr"], indptr.astype(dt))
    weights = {f: w for b in blocks for f, w in b.block.weights.items()}
    write_meta(directory, config, weights, (n_docs, width),
               [t for b in blocks for t in b.vocab])
    return {"vocab_size": width, "bm25_nnz": nnz}


def _scatter(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, width: int,
             row0: int, nxt: np.ndarray, data: np.ndarray, indices: np.ndarray) -> None:
    """Append a chunk's entries (rows ``row0 + rows``) to their columns: chunks come in
    row order, so each column stays sorted by row."""
    import scipy.sparse as sp

    if not vals.size:
        return
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n, width)).tocsc()
    counts = np.diff(m.indptr)
    col_of = np.repeat(np.arange(width, dtype=np.int64), counts)
    pos = nxt[col_of] + (np.arange(m.nnz, dtype=np.int64) - m.indptr[col_of])
    data[pos] = m.data
    indices[pos] = m.indices + row0
    nxt += counts


__all__ = ["Columns", "IdMap", "KeySpace", "TermBlock", "write_postings"]
