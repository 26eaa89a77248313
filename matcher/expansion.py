"""Query-side expansion of colloquial abbreviations (钠电 -> 钠离子电池, issue 20).

``indexing.text.abbreviations`` finds a query's short forms and the full terms they stand
for, from the vendored seed table and from the target side's own vocabulary (each word's
document frequency, read from the bundle's BM25 matrix). Here the full terms become extra
BM25 terms of the query: their words and character bigrams (not single characters, which
the short form already brings), minus the terms the query has anyway, each at
``FusionConfig.expansion_weight`` (< 1: a literal term counts more than a guessed one;
0 = off). The weight is recorded with every bundle's fusion, and the table is a function
of the bundle's vocabulary and the seed file, so the ranker, batch jobs and the publish
gate expand a query the same way. Only queries against patents are expanded: the short
forms are the demands' way of speaking.

The per-side index is learned once per side object (~0.1 s per 100k vocabulary terms)
and kept in a weak map, so it goes away with the bundle.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from indexing.text.abbreviations import AbbreviationIndex, Expansion, read_seed
from indexing.text.ngrams import BIGRAM_PREFIX, CHAR_PREFIX, is_ngram
from matcher.matched_terms import generic_df_limit

_INDEXES: weakref.WeakKeyDictionary[Any, AbbreviationIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def vocabulary_df(side: Any) -> Iterator[tuple[str, int]]:
    """(word, document frequency) of a side's BM25 vocabulary (n-gram families skipped)."""
    sparse = side.sparse
    df = np.diff(sparse.matrix.indptr)  # CSC: documents per term
    return ((t, int(d)) for t, d in zip(sparse.vocab, df.tolist()) if not is_ngram(t))


def bigram_df(side: Any) -> Callable[[str], int]:
    """Documents of the side holding a character bigram (its §-family BM25 column), 0 when
    the bundle has no bigram family."""
    sparse = side.sparse
    df = np.diff(sparse.matrix.indptr)
    col = sparse.vocab_index

    def pair_df(pair: str) -> int:
        i = col.get(BIGRAM_PREFIX + pair)
        return int(df[i]) if i is not None else 0
    return pair_df


def abbreviation_index(side: Any) -> AbbreviationIndex:
    """The side's abbreviation index (learned from its BM25 vocabulary on first use)."""
    idx = _INDEXES.get(side)
    if idx is None:
        idx = AbbreviationIndex(vocabulary_df(side), seed=read_seed(), pair_df=bigram_df(side))
        with _LOCK:
            _INDEXES[side] = idx
    return idx


def use_index(side: Any, index: AbbreviationIndex) -> None:
    """Serve ``side`` with another abbreviation index (studies compare the sources)."""
    with _LOCK:
        _INDEXES[side] = index


class QueryExpander:
    """Expansions of queries against one target side."""

    def __init__(self, side: Any, tokenizer: Any, weight: float) -> None:
        self.side, self.tokenizer, self.weight = side, tokenizer, float(weight)
        self._full_terms: dict[str, tuple[str, ...]] = {}
        self.generic_df: tuple[np.ndarray, float] | None = None

    @property
    def index(self) -> AbbreviationIndex | None:
        return abbreviation_index(self.side) if self.active else None

    @property
    def active(self) -> bool:
        return self.weight > 0 and getattr(self.side, "name", "patents") == "patents" \
            and hasattr(self.tokenizer, "tokenize_with_offsets")

    def expansions(self, text: str, literal: Sequence[str] | None = None) -> list[Expansion]:
        """``literal``: the text's own BM25 terms, when known: a text without a one-
        character word of the side's vocabulary (what a learned short form needs) and
        without a seed short form is not segmented again (batch jobs: most texts)."""
        index = self.index
        if index is None or not text:
            return []
        if literal is not None:
            vocab = self.side.sparse.vocab_index
            if not any(len(t) == 1 and t in vocab for t in literal) and not index.has_seed_form(text):
                return []
        # terms come normalised; normalisation is length-preserving, so offsets hold
        return index.expand(self.tokenizer.tokenize_with_offsets(text))

    def _specific(self, term: str) -> bool:
        """Not a generic term of the side (in more than ``GENERIC_DF`` of its records, as
        for explanations): 电池 and 材料 of 钠离子电池 / 正极材料 name no evidence the short
        form stands for and would lift every record of the broad topic."""
        if self.generic_df is None:
            self.generic_df = (np.diff(self.side.sparse.matrix.indptr),
                               generic_df_limit(len(self.side.ids)))
        df, limit = self.generic_df
        i = self.side.sparse.vocab_index.get(term)
        return i is not None and df[i] <= limit

    def _terms_of(self, full: str) -> tuple[str, ...]:
        got = self._full_terms.get(full)
        if got is None:
            from matcher.kernels import lexical_tokens

            got = tuple(t for t in dict.fromkeys(lexical_tokens(self.tokenizer, full))
                        if not t.startswith(CHAR_PREFIX) and self._specific(t))
            if len(self._full_terms) > 50_000:
                self._full_terms.clear()
            self._full_terms[full] = got
        return got

    def extra_tokens(self, text: str, literal: Sequence[str],
                     exps: list[Expansion] | None = None) -> tuple[list[str], list[Expansion]]:
        """The expansion's BM25 terms for ``text`` (not already among ``literal``), and the
        expansions they come from (``exps``: already computed for ``text``)."""
        exps = self.expansions(text, literal) if exps is None else exps
        if not exps:
            return [], []
        have = set(literal)
        extra: list[str] = []
        for e in exps:
            for t in self._terms_of(e.full):
                if t not in have:
                    have.add(t)
                    extra.append(t)
        return extra, exps

    def query_matrix(self, texts: Sequence[str], literal: Any) -> Any:
        """``literal`` (the (n, V) CSR of the texts' own terms) plus each text's expansion
        terms at ``weight``: the batch form of ``extra_tokens``."""
        if self.index is None or not texts:
            return literal
        vocab = self.side.sparse.vocab
        literal = literal.tocsr()
        ptr, cols = literal.indptr, literal.indices
        extras: list[list[str]] = []
        for i, t in enumerate(texts):
            own = [vocab[j] for j in cols[ptr[i]:ptr[i + 1]]]
            exps = self.expansions(t, own)
            extras.append(self.extra_tokens(t, own, exps)[0] if exps else [])
        if not any(extras):
            return literal
        q = literal + self.side.sparse.query_matrix(extras, [[self.weight] * len(e) for e in extras])
        q = q.tocsr()
        q.sum_duplicates()
        return q


_EXPANDERS: weakref.WeakKeyDictionary[Any, dict[tuple[int, float], QueryExpander]] = \
    weakref.WeakKeyDictionary()


def expander_for(side: Any, tokenizer: Any, fusion: Any) -> QueryExpander:
    """The expander of ``side`` for ``tokenizer`` at ``fusion.expansion_weight`` (one per
    combination while the side lives: its memo of full-term BM25 terms is kept)."""
    weight = float(getattr(fusion, "expansion_weight", 0.0) or 0.0)
    try:
        per_side = _EXPANDERS.setdefault(side, {})
    except TypeError:  # not weak-referenceable: an expander of its own
        return QueryExpander(side, tokenizer, weight)
    key = (id(tokenizer), weight)
    got = per_side.get(key)
    if got is None or got.tokenizer is not tokenizer:
        got = per_side[key] = QueryExpander(side, tokenizer, weight)
    return got


def weighted(tokens: Sequence[str], extra: Sequence[str], weight: float,
             ) -> tuple[list[str], list[float] | None]:
    """A query's BM25 terms with their expansion: (terms, weights), weights None = all 1."""
    if not extra:
        return list(tokens), None
    return list(tokens) + list(extra), [1.0] * len(tokens) + [float(weight)] * len(extra)


__all__ = ["QueryExpander", "abbreviation_index", "bigram_df", "expander_for", "use_index", "vocabulary_df",
           "weighted"]
