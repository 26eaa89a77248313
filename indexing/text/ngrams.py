"""Character n-gram index terms, indexed next to the jieba words.

Word-level BM25 needs the query and the document to be segmented the same way; an SME
writing 电池分选 and a patent saying 分选电池组 may share no word at all. Two more lexical
families remove that dependence (measured in ``benchmarks/bigram_study.py``: with them
the hybrid ranker wins on all six shared tasks, nDCG@10 0.619 -> 0.785 on demands_dev):

- **bigrams**: overlapping character bigrams of each CJK run, after the multi-character
  stopwords (本发明, 所述, 我们公司 ...) are blanked out, so boilerplate yields no junk
  bigram; a one-character run is kept as itself; ASCII words and numbers stay whole
  (``lifepo4``, ``3.5ah``, ``25℃``).
- **chars**: every CJK character that is not a stopword, plus ASCII numbers-with-units
  and words (the tokenizer's ``mode="chars"`` terms).

Terms carry a family prefix (``§`` bigram, ``¶`` char) because all lexical fields share
one vocabulary (``indexing.index.sparse``): the word 电池 and the bigram 电池 are different
columns with different statistics. Neither sign survives normalisation as part of a word
(punctuation is split off), so a prefixed term never collides with a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from indexing.text.normalization import CHAR_TOKEN_PATTERN as _TEXT_CHARS

BIGRAM_PREFIX = "\u00a7"  # §
CHAR_PREFIX = "\u00b6"  # ¶
FAMILIES = ("bigram", "char")
PREFIXES = {"bigram": BIGRAM_PREFIX, "char": CHAR_PREFIX}

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# a CJK run, or an ASCII word/number kept whole (dots inside numbers, a trailing unit sign)
_PIECE = re.compile(rf"([{_CJK}]+)|([0-9a-z]+(?:\.[0-9a-z]+)*[%\u2030\u2103]?)")
_CHAR = _TEXT_CHARS  # exactly the tokenizer's mode="chars" terms


class NgramTerms:
    """The n-gram families of normalised text (``indexing.text.normalization.normalize_text``)."""

    def __init__(self, stopwords: Iterable[str], families: Iterable[str] = FAMILIES) -> None:
        self.stopwords = frozenset(stopwords)
        self.families = tuple(families)
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            from patmatch.errors import ConfigError

            raise ConfigError(f"unknown n-gram families {sorted(unknown)}; expected some of "
                              f"{list(FAMILIES)}")
        multi = sorted((w for w in self.stopwords if len(w) > 1 and re.fullmatch(f"[{_CJK}]+", w)),
                       key=lambda w: (-len(w), w))
        self._cut = re.compile("|".join(map(re.escape, multi))) if multi else None

    def bigrams(self, norm: str) -> list[str]:
        stop = self.stopwords
        if self._cut is not None:  # blank, not delete: a stopword ends the run
            norm = self._cut.sub(_blank, norm)
        out: list[str] = []
        for run, word in _PIECE.findall(norm):
            if len(run) > 1:
                out.extend(b for b in map(run.__getitem__, _PAIRS[len(run)] if len(run) < 64
                                          else _pairs(len(run))) if b not in stop)
            elif (term := run or word) not in stop:
                out.append(term)
        return out

    def chars(self, norm: str) -> list[str]:
        stop = self.stopwords
        return [c for c in _CHAR.findall(norm) if c not in stop]

    def terms(self, norm: str) -> dict[str, list[str]]:
        """``{family: prefixed terms}`` for the configured families."""
        out = {}
        if "bigram" in self.families:
            out["bigram"] = [BIGRAM_PREFIX + t for t in self.bigrams(norm)]
        if "char" in self.families:
            out["char"] = [CHAR_PREFIX + t for t in self.chars(norm)]
        return out


# --- the same terms for a whole corpus, as integer keys (the build) -------------------
# key layout (uint64, per family): a code point (< 2**21: a CJK character, or a
# one-character run); a CJK bigram (first code point << 21 | second); or, with bit 61, an
# ASCII term (low bits: its index in the ASCII table).
_ASCII_BIT = np.uint64(1 << 61)
_CP_LIMIT = 0x110000
# public for builders that order the keys as the whole-corpus build does (code points,
# then bigram keys, then ASCII terms: see indexing.build.side_build)
ASCII_KEY_BIT, CODE_POINT_LIMIT = _ASCII_BIT, _CP_LIMIT
_ASCII_PIECE = re.compile(r"[0-9a-z]+(?:\.[0-9a-z]+)*[%\u2030\u2103]?")
_ASCII_CHAR = re.compile(r"[0-9]+(?:\.[0-9]+)?[a-z%℃]*|[a-z]+")
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def _codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points, CJK mask, document row) of ``"\\n".join(texts)``: normalised text
    has no newline, so each one ends a document and no run crosses it."""
    cp = np.frombuffer("\n".join(texts).encode("utf-32-le"), dtype=np.uint32)
    sep = cp == 10
    rows = np.cumsum(sep) - sep  # the separator belongs to the text before it
    cjk = np.zeros(cp.size, dtype=bool)
    for lo, hi in _CJK_RANGES:
        cjk |= (cp >= lo) & (cp <= hi)
    return cp, cjk, rows


class CodedCorpus:
    """N-gram terms of many fields as (row, key) arrays with one shared key table: the
    build's fast path, equal term for term to :meth:`NgramTerms.terms` (tested)."""

    def __init__(self, ngrams: NgramTerms) -> None:
        self.ng = ngrams
        self.ascii: dict[str, int] = {}
        cjk_stop = [w for w in ngrams.stopwords if all(_is_cjk(c) for c in w)]
        # stopword lookups as tables over code points: a set test per term would be
        # Python; np.isin sorts millions of keys
        self._stop_char = np.zeros(0x110000, dtype=bool)
        self._stop_char[[ord(w) for w in cjk_stop if len(w) == 1]] = True
        self._pair_first = np.zeros(0x110000, dtype=bool)
        self._pair_first[[ord(w[0]) for w in cjk_stop if len(w) == 2]] = True
        self._pairs = np.array(sorted((ord(w[0]) << 21) | ord(w[1]) for w in cjk_stop
                                      if len(w) == 2), dtype=np.uint64)

    def _ascii_terms(self, texts: Sequence[str], pattern: str) -> tuple[np.ndarray, np.ndarray]:
        """ASCII words/numbers, found by polars (Rust regex, same leftmost-first
        semantics as Python's ``re`` for these patterns) per text."""
        import polars as pl

        found = (pl.DataFrame({"t": list(texts)}).with_row_index("row")
                 .select("row", pl.col("t").str.extract_all(pattern)).explode("t")
                 .filter(pl.col("t").is_not_null() & ~pl.col("t").is_in(list(self.ng.stopwords))))
        table = self.ascii
        for t in found["t"].unique(maintain_order=True).to_list():
            table.setdefault(t, len(table))
        ids = found["t"].replace_strict(list(table), list(table.values()),
                                        return_dtype=pl.UInt64).to_numpy()
        rows = found["row"].to_numpy().astype(np.int64)
        return rows, ids | _ASCII_BIT

    def bigrams(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.ng._cut is not None:  # one space per stopword: it still ends the run
            texts = self.ng._cut.sub(" ", "\n".join(texts)).split("\n")
        cp, cjk, rows = _codepoints(texts)
        pair = cjk[:-1] & cjk[1:]
        first, second = cp[:-1][pair], cp[1:][pair]
        pkeys = (first.astype(np.uint64) << np.uint64(21)) | second
        keep = np.ones(pkeys.size, dtype=bool)
        cand = np.flatnonzero(self._pair_first[first])
        if cand.size and self._pairs.size:
            at = np.searchsorted(self._pairs, pkeys[cand]).clip(max=self._pairs.size - 1)
            keep[cand[self._pairs[at] == pkeys[cand]]] = False
        lone = cjk.copy()
        lone[1:] &= ~cjk[:-1]
        lone[:-1] &= ~cjk[1:]
        lone &= ~self._stop_char[cp]
        ar, ak = self._ascii_terms(texts, _ASCII_PIECE.pattern)
        return (np.concatenate([rows[:-1][pair][keep], rows[lone], ar]),
                np.concatenate([pkeys[keep], cp[lone].astype(np.uint64), ak]))

    def chars(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        cp, cjk, rows = _codepoints(texts)
        keep = cjk & ~self._stop_char[cp]
        ar, ak = self._ascii_terms(texts, _ASCII_CHAR.pattern)
        return (np.concatenate([rows[keep], ar]),
                np.concatenate([cp[keep].astype(np.uint64), ak]))

    def family(self, name: str, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row of each term, its key) for ``texts`` (normalised, row-aligned)."""
        if any("\n" in t for t in texts):
            from patmatch.errors import ConfigError

            raise ConfigError("n-gram terms need normalised text (normalize_text), which "
                              "has no newline; got a text with one")
        return self.bigrams(texts) if name == "bigram" else self.chars(texts)

    def decode(self, keys: np.ndarray, prefix: str) -> list[str]:
        """The prefixed term of each key."""
        ascii_of = {v: k for k, v in self.ascii.items()}
        out = []
        for k in keys.tolist():
            if k & (1 << 61):
                out.append(prefix + ascii_of[k & ((1 << 61) - 1)])
            elif k >> 21:
                out.append(prefix + chr(k >> 21) + chr(k & 0x1FFFFF))
            else:
                out.append(prefix + chr(k))
        return out


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(id of each key, the distinct keys in id order). Code points get ids by direct
    addressing (no sort); only bigram and ASCII keys are sorted."""
    small = keys < _CP_LIMIT
    cps = keys[small].astype(np.int64)
    present = np.zeros(_CP_LIMIT, dtype=bool)
    present[cps] = True
    cp_ids = np.cumsum(present) - 1
    ids = np.empty(keys.size, dtype=np.int64)
    ids[small] = cp_ids[cps]
    rest, inverse = np.unique(keys[~small], return_inverse=True)
    ids[~small] = inverse.ravel() + int(present.sum())
    return ids, np.concatenate([np.flatnonzero(present).astype(np.uint64), rest])


def coded_fields(corpus: CodedCorpus, fields: dict[str, tuple[str, Sequence[str]]]
                 ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """``{field: (family, normalised texts)}`` -> ``({field: (rows, ids)}, vocab)`` with
    one vocabulary (prefixed terms, family by family) shared by all the fields."""
    coded = {f: corpus.family(fam, texts) for f, (fam, texts) in fields.items()}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    vocab: list[str] = []
    for fam in FAMILIES:
        names = [f for f, (x, _) in fields.items() if x == fam]
        if not names:
            continue
        ids, uniq = _factorize(np.concatenate([coded[f][1] for f in names]))
        pos = 0
        for f in names:
            rows, keys = coded[f]
            out[f] = (rows, ids[pos: pos + keys.size] + len(vocab))
            pos += keys.size
        vocab += corpus.decode(uniq, PREFIXES[fam])
    return out, vocab


def _is_cjk(c: str) -> bool:
    return any(lo <= ord(c) <= hi for lo, hi in _CJK_RANGES)


def _blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def _pairs(n: int) -> list[slice]:
    return [slice(i, i + 2) for i in range(n - 1)]


_PAIRS = [_pairs(n) for n in range(64)]  # reused slices: no per-bigram range/slice objects


def strip_prefix(term: str) -> str:
    """The surface form of a lexical term (a word, or a prefixed n-gram)."""
    return term[1:] if term[:1] in (BIGRAM_PREFIX, CHAR_PREFIX) else term


def is_ngram(term: str) -> bool:
    return term[:1] in (BIGRAM_PREFIX, CHAR_PREFIX)


__all__ = ["ASCII_KEY_BIT", "BIGRAM_PREFIX", "CHAR_PREFIX", "CODE_POINT_LIMIT", "FAMILIES", "PREFIXES", "CodedCorpus", "NgramTerms",
           "coded_fields", "is_ngram",
           "strip_prefix"]
