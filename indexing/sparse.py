"""BM25 over weighted fields, built with bm25s, scored as one sparse matrix.

Field weighting: bm25s builds one BM25 index per field (title, abstract, claims,
labels) over a vocabulary shared by every field; the per-field document x term score
matrices are summed with the field weights into a single matrix ``D`` (CSC, n_docs x V).
The score of a query is therefore ``sum_f w_f * BM25_f(q, d)`` exactly, and

- one query: ``D[:, ids].sum(axis=1)``, computed by bm25s' own scorer
  (``BM25._compute_relevance_from_scores``), so single-field scores are bit-for-bit the
  scores of ``bm25s.BM25.get_scores``;
- batch: ``query_matrix(tokens_list) @ doc_matrix().T`` gives the same numbers for many
  queries at once (a query token counts once per occurrence, like bm25s).

Only BM25 variants without a non-occurrence term (lucene, robertson, atire) are allowed,
because that term would not survive the field sum as a sparse matrix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.errors import BundleIntegrityError, ConfigError

SPARSE_METHODS = ("lucene", "robertson", "atire")
MATRIX_FILE = "bm25.npz"
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


def _field_matrix(token_ids: list[list[int]], n_vocab: int, config: SparseConfig) -> Any:
    import bm25s
    import scipy.sparse as sp

    model = bm25s.BM25(method=config.method, k1=config.k1, b=config.b)
    # bm25s treats an all-empty field as degenerate (avg length 0): skip it instead.
    if not any(token_ids):
        return sp.csc_matrix((len(token_ids), n_vocab), dtype=np.float32)
    s = model.build_index_from_ids(
        unique_token_ids=list(range(n_vocab)), corpus_token_ids=token_ids, show_progress=False,
    )
    return sp.csc_matrix(
        (s["data"], s["indices"], s["indptr"]), shape=(len(token_ids), n_vocab), dtype=np.float32,
    )


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
        self._csr: Any = None

    @property
    def n_docs(self) -> int:
        return int(self.matrix.shape[0])

    # --- build --------------------------------------------------------------------
    @classmethod
    def build(cls, fields: Mapping[str, Sequence[Sequence[str]]],
              weights: Mapping[str, float], config: SparseConfig = SparseConfig()) -> SparseIndex:
        """``fields``: field name -> one token list per document (all row-aligned)."""
        import scipy.sparse as sp

        used = {f: toks for f, toks in fields.items() if float(weights.get(f, 0.0)) > 0.0}
        sizes = {len(t) for t in fields.values()}
        if len(sizes) > 1:
            raise ConfigError(f"fields are not row-aligned: lengths {sorted(sizes)}")
        n_docs = sizes.pop() if sizes else 0
        vocab: dict[str, int] = {}
        ids: dict[str, list[list[int]]] = {}
        for f, docs in used.items():
            ids[f] = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in docs]
        n_vocab = len(vocab)
        total = sp.csc_matrix((n_docs, n_vocab), dtype=np.float32)
        if n_docs and n_vocab:
            for f, tids in ids.items():
                total = total + np.float32(weights[f]) * _field_matrix(tids, n_vocab, config)
        terms = [""] * n_vocab
        for t, i in vocab.items():
            terms[i] = t
        return cls(total.astype(np.float32), terms, config,
                   {f: float(weights[f]) for f in used})

    # --- scoring ------------------------------------------------------------------
    def token_ids(self, tokens: Sequence[str]) -> np.ndarray:
        get = self.vocab_index.get
        return np.asarray([i for i in (get(t) for t in tokens) if i is not None], dtype=np.int64)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for one query (float32, length n_docs)."""
        import bm25s

        qids = self.token_ids(tokens)
        if qids.size == 0 or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        m = self.matrix
        return bm25s.BM25._compute_relevance_from_scores(
            m.data, m.indptr, m.indices, self.n_docs, qids, np.dtype(np.float32),
        )

    def search(self, tokens: Sequence[str], k: int, mask: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores), best first, among rows passing ``mask``.

        Only documents sharing at least one term with the query (score > 0) are returned:
        a zero BM25 score carries no lexical evidence. Ties break by row for determinism.
        """
        s = self.scores(tokens)
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

    def query_matrix(self, tokens_list: Sequence[Sequence[str]]) -> Any:
        """(n_queries, V) CSR of query term counts: ``Q @ doc_matrix().T`` = BM25 scores."""
        import scipy.sparse as sp

        rows: list[int] = []
        cols: list[int] = []
        for r, toks in enumerate(tokens_list):
            ids = self.token_ids(toks)
            rows.extend([r] * len(ids))
            cols.extend(ids.tolist())
        data = np.ones(len(rows), dtype=np.float32)
        q = sp.csr_matrix((data, (rows, cols)), shape=(len(tokens_list), len(self.vocab)),
                          dtype=np.float32)
        q.sum_duplicates()
        return q

    def doc_matrix(self) -> Any:
        """(n_docs, V) CSR document x term BM25 weight matrix (cached)."""
        if self._csr is None:
            self._csr = self.matrix.tocsr()
        return self._csr

    def batch_scores(self, tokens_list: Sequence[Sequence[str]]) -> Any:
        """(n_queries, n_docs) sparse score matrix for many queries at once."""
        return (self.query_matrix(tokens_list) @ self.doc_matrix().T).tocsr()

    # --- persistence ----------------------------------------------------------------
    def save(self, directory: Path) -> list[Path]:
        import scipy.sparse as sp

        directory.mkdir(parents=True, exist_ok=True)
        mpath, vpath = directory / MATRIX_FILE, directory / VOCAB_FILE
        sp.save_npz(mpath, self.matrix, compressed=False)
        vpath.write_text(json.dumps({
            "config": self.config.to_dict(), "field_weights": self.field_weights,
            "vocab": self.vocab,
        }, ensure_ascii=False), encoding="utf-8")
        return [mpath, vpath]

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        import scipy.sparse as sp

        try:
            meta = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
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
        return cls(matrix.astype(np.float32), meta["vocab"],
                   SparseConfig.from_dict(meta["config"]), meta.get("field_weights"))


__all__ = ["SPARSE_METHODS", "SparseConfig", "SparseIndex"]
