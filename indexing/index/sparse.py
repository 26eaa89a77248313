"""BM25 over weighted fields, built with bm25s, scored as one sparse matrix.

Field weighting: bm25s builds one BM25 index per field (title, abstract, claims,
labels) over a vocabulary shared by every field; the per-field document x term score
matrices are summed with the field weights into a single matrix ``D`` (CSC, n_docs x V).
The score of a query is therefore ``sum_f w_f * BM25_f(q, d)`` exactly, and

- one query: ``D[:, ids].sum(axis=1)``, computed by bm25s' own scorer
  (``BM25._compute_relevance_from_scores``), so single-field scores are bit-for-bit the
  scores of ``bm25s.BM25.get_scores``;
- batch: ``query_matrix(tokens_list) @ doc_matrix().T`` (a CSR view of the CSC arrays) gives the same numbers for many
  queries at once (a query token counts once per occurrence, like bm25s).

Only BM25 variants without a non-occurrence term (lucene, robertson, atire) are allowed,
because that term would not survive the field sum as a sparse matrix.
"""

from __future__ import annotations

import json
from itertools import chain, repeat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.errors import BundleIntegrityError, ConfigError

SPARSE_METHODS = ("lucene", "robertson", "atire")
MATRIX_FILE = "bm25.npz"  # bundles written before the memory-mapped parts (still read)
# the CSC matrix as three plain .npy files, opened memory-mapped: the API workers serving
# one bundle share these pages instead of each holding a copy
PART_FILES = {"data": "bm25_data.npy", "indices": "bm25_indices.npy",
              "indptr": "bm25_indptr.npy"}
VOCAB_FILE = "bm25_vocab.json"


@dataclass(frozen=True)
class SparseConfig:
    method: str = "lucene"
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if self.method not in SPARSE_METHODS:
            raise ConfigError(
                f"BM25 method must be one of {SPARSE_METHODS}, got {self.method!r}",
                details={"field": "method"},
            )

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "k1": self.k1, "b": self.b}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SparseConfig:
        return cls(**dict(d))


def bm25_idf(df: np.ndarray, n_docs: int, config: SparseConfig) -> np.ndarray:
    """float32 idf of each term from its document frequency (bm25s' own per-term
    function: its default idf_method is the method itself, a Python float per term)."""
    from bm25s.scoring import _select_idf_scorer

    idf_fn = _select_idf_scorer(config.method)
    uniq, inverse = np.unique(df, return_inverse=True)  # a few hundred distinct values
    return np.array([idf_fn(d, N=n_docs) if d else 0.0 for d in uniq.tolist()],
                    dtype=np.float32)[inverse.ravel()]


def bm25_weights(counts: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 lens: np.ndarray, idf: np.ndarray, avg_len: float,
                 config: SparseConfig) -> np.ndarray:
    """float32 BM25 weight of each stored (document, term) of a CSR term-count matrix:
    ``counts`` (float32) per entry, ``lens`` terms per document (repeats counted),
    ``avg_len`` the mean over ALL documents of the field (so a block of rows gets the
    weights the whole matrix would give it)."""
    from bm25s.scoring import _select_tfc_scorer

    doc_len = np.repeat(lens.astype(np.int64, copy=False), np.diff(indptr))
    tfc = _select_tfc_scorer(config.method)(
        tf_array=counts, l_d=doc_len, l_avg=avg_len, k1=config.k1, b=config.b, delta=None)
    return (idf[indices] * tfc).astype(np.float32)


def field_matrix(rows: np.ndarray, ids: np.ndarray, n_docs: int, n_vocab: int,
                  config: SparseConfig) -> Any:
    """One field's (n_docs, V) BM25 weight matrix, vectorised.

    Equal bit for bit to ``bm25s.BM25.build_index_from_ids`` (tested): the idf comes from
    bm25s' own per-term function and the tf component from bm25s' own formula, applied to
    whole arrays instead of one document at a time. bm25s' per-document Python loop
    (a ``Counter`` per document) cost ~1.2 s of a 20k-patent build; this costs ~0.1 s
    (``benchmarks/bm25_build_bench.py``).
    """
    import scipy.sparse as sp

    # bm25s treats an all-empty field as degenerate (avg length 0): skip it instead.
    if ids.size == 0:
        return sp.csc_matrix((n_docs, n_vocab), dtype=np.float32)
    lens = np.bincount(rows, minlength=n_docs)  # terms per document, repeats counted
    tf = sp.csr_matrix((np.ones(ids.size, dtype=np.float32), (rows, ids)),
                       shape=(n_docs, n_vocab))
    tf.sum_duplicates()
    idf = bm25_idf(np.bincount(tf.indices, minlength=n_vocab), n_docs, config)
    data = bm25_weights(tf.data, tf.indices, tf.indptr, lens, idf, lens.mean(), config)
    return sp.csr_matrix((data, tf.indices, tf.indptr), shape=(n_docs, n_vocab)).tocsc()


def index_dtype(*sizes: int) -> type:
    """The index dtype scipy gives a sparse matrix of these sizes (nnz, shape)."""
    return np.int32 if max(sizes, default=0) <= np.iinfo(np.int32).max else np.int64


def write_meta(directory: Path, config: SparseConfig, field_weights: Mapping[str, float],
               shape: tuple[int, int], vocab: Sequence[str]) -> Path:
    """The index's ``bm25_vocab.json`` (config, field weights, shape, vocabulary)."""
    vpath = directory / VOCAB_FILE
    vpath.write_text(json.dumps({
        "config": config.to_dict(), "field_weights": dict(field_weights),
        "shape": list(shape), "vocab": list(vocab),
    }, ensure_ascii=False), encoding="utf-8")
    return vpath


class SparseIndex:
    """Weighted-field BM25 with in-retrieval masks and a matrix view for batch scoring."""

    def __init__(self, matrix: Any, vocab: Sequence[str], config: SparseConfig,
                 field_weights: Mapping[str, float] | None = None) -> None:
        self.matrix = matrix.tocsc()  # (n_docs, V) float32
        self.matrix.sort_indices()
        self.vocab: list[str] = list(vocab)
        self.vocab_index: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}
        self.config = config
        self.field_weights = dict(field_weights or {})
        self._term_max: np.ndarray | None = None

    @property
    def n_docs(self) -> int:
        return int(self.matrix.shape[0])

    # --- build --------------------------------------------------------------------
    @classmethod
    def build(cls, fields: Mapping[str, Sequence[Sequence[str]]],
              weights: Mapping[str, float], config: SparseConfig = SparseConfig(), *,
              extra: SparseIndex | None = None) -> SparseIndex:
        """``fields``: field name -> one token list per document (all row-aligned).
        ``extra``: an index over the same documents whose terms never occur in these
        fields (the prefixed n-gram families), appended as columns of its own."""
        import scipy.sparse as sp

        used = {f: toks for f, toks in fields.items() if float(weights.get(f, 0.0)) > 0.0}
        sizes = {len(t) for t in fields.values()}
        if len(sizes) > 1:
            raise ConfigError(f"fields are not row-aligned: lengths {sorted(sizes)}")
        n_docs = sizes.pop() if sizes else 0
        flat = {f: list(chain.from_iterable(docs)) for f, docs in used.items()}
        # term ids in order of first occurrence over the fields (deterministic)
        terms = list(dict.fromkeys(chain.from_iterable(flat.values())))
        index = {t: i for i, t in enumerate(terms)}
        n_vocab = len(terms)
        total = sp.csc_matrix((n_docs, n_vocab), dtype=np.float32)
        if n_docs and n_vocab:
            for f, docs in used.items():
                ids = np.fromiter(map(index.__getitem__, flat[f]), dtype=np.int64,
                                  count=len(flat[f]))
                lens = np.fromiter(map(len, docs), dtype=np.int64, count=n_docs)
                rows = np.repeat(np.arange(n_docs, dtype=np.int64), lens)
                total = total + np.float32(weights[f]) * field_matrix(
                    rows, ids, n_docs, n_vocab, config)
        field_weights = {f: float(weights[f]) for f in used}
        if extra is not None:  # columns of their own (prefixed terms): a side-by-side block
            if extra.matrix.shape[0] != n_docs:
                raise ConfigError(f"extra lexical block has {extra.matrix.shape[0]} rows, "
                                  f"expected {n_docs}")
            total = sp.hstack([total, extra.matrix], format="csc")
            terms = terms + extra.vocab
            field_weights.update(extra.field_weights)
        return cls(total.astype(np.float32), terms, config, field_weights)

    @classmethod
    def build_coded(cls, fields: Mapping[str, tuple[np.ndarray, np.ndarray]], vocab: Sequence[str],
                    weights: Mapping[str, float], n_docs: int,
                    config: SparseConfig = SparseConfig()) -> SparseIndex:
        """The same index from terms already coded as ids: ``fields`` maps a field name
        to ``(rows, ids)`` (one entry per term occurrence, ids into ``vocab``)."""
        import scipy.sparse as sp

        total = sp.csc_matrix((n_docs, len(vocab)), dtype=np.float32)
        used = {f: v for f, v in fields.items() if float(weights.get(f, 0.0)) > 0.0}
        for f, (rows, ids) in used.items():
            total = total + np.float32(weights[f]) * field_matrix(
                rows, ids, n_docs, len(vocab), config)
        return cls(total.astype(np.float32), vocab, config,
                   {f: float(weights[f]) for f in used})

    def drop_common(self, max_df: float) -> SparseIndex:
        """This index without the terms in more than ``max_df`` of the documents. Other
        terms keep their weights (document lengths and idf were fixed at build), so this
        equals ignoring those terms in every query."""
        df = np.diff(self.matrix.indptr)  # CSC: documents per term
        keep = np.flatnonzero(df <= max_df * self.n_docs)
        if keep.size == len(self.vocab):
            return self
        return type(self)(self.matrix[:, keep], [self.vocab[i] for i in keep.tolist()],
                          self.config, self.field_weights)

    # --- scoring ------------------------------------------------------------------
    def token_ids(self, tokens: Sequence[str]) -> np.ndarray:
        """Vocabulary ids of the known tokens, in order (repeats kept)."""
        ids = np.fromiter(map(self.vocab_index.get, tokens, repeat(-1)), dtype=np.int64,
                          count=len(tokens))
        return ids[ids >= 0]

    def scores(self, tokens: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 score of every document for one query (float32, length n_docs).
        ``weights``: one per token (a query expansion's terms count less than the
        query's own); None = every token counts 1."""
        if weights is not None and any(w != 1.0 for w in weights):
            if len(weights) != len(tokens):
                raise ConfigError(f"expected one weight per token, got {len(weights)} weights "
                                  f"for {len(tokens)} tokens")
            out = np.zeros(self.n_docs, dtype=np.float32)
            for w in sorted(set(weights)):
                if w:
                    part = [t for t, x in zip(tokens, weights) if x == w]
                    out += np.float32(w) * self.scores(part)
            return out
        import bm25s

        qids = self.token_ids(tokens)
        if qids.size == 0 or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        m = self.matrix
        return bm25s.BM25._compute_relevance_from_scores(
            m.data, m.indptr, m.indices, self.n_docs, qids, np.dtype(np.float32),
        )

    def search(self, tokens: Sequence[str], k: int, mask: np.ndarray | None = None,
               weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores), best first, among rows passing ``mask``.

        Only documents sharing at least one term with the query (score > 0) are returned:
        a zero BM25 score carries no lexical evidence. Ties break by row for determinism.
        ``weights``: per token, as in ``scores``.
        """
        s = self.scores(tokens, weights)
        if mask is not None:
            if mask.shape != (self.n_docs,):
                raise ConfigError(f"mask must have shape ({self.n_docs},), got {mask.shape}")
            s = np.where(mask, s, 0.0).astype(np.float32)
        cand = np.flatnonzero(s > 0)
        if cand.size == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if cand.size > k:
            part = np.argpartition(-s[cand], k - 1)[:k]
            cand = cand[part]
        order = np.lexsort((cand, -s[cand]))
        rows = cand[order].astype(np.int64)
        return rows, s[rows].astype(np.float32)

    def query_matrix(self, tokens_list: Sequence[Sequence[str]],
                     weights_list: Sequence[Sequence[float]] | None = None) -> Any:
        """(n_queries, V) CSR of query term counts: ``Q @ doc_matrix().T`` = BM25 scores.
        ``weights_list``: per query, one weight per token (as in ``scores``)."""
        import scipy.sparse as sp

        lens = np.fromiter(map(len, tokens_list), dtype=np.int64, count=len(tokens_list))
        flat = list(chain.from_iterable(tokens_list))
        ids = np.fromiter(map(self.vocab_index.get, flat, repeat(-1)), dtype=np.int64,
                          count=len(flat))
        known = ids >= 0
        rows = np.repeat(np.arange(len(tokens_list), dtype=np.int64), lens)[known]
        cols = ids[known]
        if weights_list is None:
            data = np.ones(len(rows), dtype=np.float32)
        else:
            w = np.fromiter(chain.from_iterable(weights_list), dtype=np.float32)
            if len(w) != len(flat):
                raise ConfigError(f"expected one weight per token, got {len(w)} weights for "
                                  f"{len(flat)} tokens")
            data = w[known]
        q = sp.csr_matrix((data, (rows, cols)), shape=(len(tokens_list), len(self.vocab)),
                          dtype=np.float32)
        q.sum_duplicates()
        return q

    @property
    def term_max(self) -> np.ndarray:
        """(V,) float64: each term's largest weight in any document. ``query_matrix @
        term_max`` (or the sum over a query's term ids) is the most a query could score if
        one document held every query term at its best: what the query could score, the
        bound the fusion normalises weak lexical evidence against."""
        if self._term_max is None:
            m = self.matrix
            out = np.zeros(m.shape[1], dtype=np.float64)
            nz = np.flatnonzero(np.diff(m.indptr))
            if nz.size:
                out[nz] = np.maximum.reduceat(m.data.astype(np.float64), m.indptr[nz])
            self._term_max = out
        return self._term_max

    def query_bound(self, tokens: Sequence[str], weights: Sequence[float] | None = None) -> float:
        """``term_max`` summed over the query's known tokens (repeats count, as in
        ``query_matrix``), each times its weight when ``weights`` are given."""
        if weights is None:
            return float(self.term_max[self.token_ids(tokens)].sum())
        ids = np.fromiter(map(self.vocab_index.get, tokens, repeat(-1)), dtype=np.int64,
                          count=len(tokens))
        w = np.asarray(weights, dtype=np.float64)
        known = ids >= 0
        return float((self.term_max[ids[known]] * w[known]).sum())

    def doc_matrix(self) -> Any:
        """(n_docs, V) document x term BM25 weight matrix: the index's own CSC matrix,
        no copy. ``Q @ doc_matrix().T`` multiplies by its transpose, a CSR view of the
        same (memory-mapped) arrays, so serving workers share these pages; a CSR copy
        (what this returned before) was private memory in every worker and was turned
        back into CSR-of-the-transpose by the product anyway. Column slices are cheap."""
        return self.matrix

    def batch_scores(self, tokens_list: Sequence[Sequence[str]]) -> Any:
        """(n_queries, n_docs) sparse score matrix for many queries at once."""
        return (self.query_matrix(tokens_list) @ self.doc_matrix().T).tocsr()

    # --- persistence ----------------------------------------------------------------
    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        m = self.matrix
        paths = []
        for part, name in PART_FILES.items():
            np.save(directory / name, np.ascontiguousarray(getattr(m, part)))
            paths.append(directory / name)
        return [*paths, write_meta(directory, self.config, self.field_weights, m.shape,
                                   self.vocab)]

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> SparseIndex:
        import scipy.sparse as sp

        try:
            meta = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
            if (directory / PART_FILES["data"]).exists():
                parts = [np.load(directory / PART_FILES[p], mmap_mode="r" if mmap else None)
                         for p in ("data", "indices", "indptr")]
                # copy=False: the matrix keeps the (read-only) memory-mapped arrays
                matrix = sp.csc_matrix(tuple(parts), shape=tuple(meta["shape"]), copy=False)
            else:
                matrix = sp.load_npz(directory / MATRIX_FILE)
        except (OSError, ValueError, KeyError) as exc:
            raise BundleIntegrityError(
                f"cannot read the BM25 index in {directory}: {exc}",
                details={"path": str(directory)},
            ) from exc
        if matrix.shape[1] != len(meta["vocab"]):
            raise BundleIntegrityError(
                f"BM25 matrix has {matrix.shape[1]} terms but the vocabulary {len(meta['vocab'])}",
                details={"path": str(directory)},
            )
        return cls(matrix.astype(np.float32, copy=False), meta["vocab"],
                   SparseConfig.from_dict(meta["config"]), meta.get("field_weights"))


__all__ = ["PART_FILES", "SPARSE_METHODS", "SparseConfig", "SparseIndex", "bm25_idf", "bm25_weights",
           "field_matrix", "index_dtype", "write_meta"]
