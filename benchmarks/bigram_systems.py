"""The lexical systems the bigram study compares: tokenizers (words, characters,
bigrams with and without the stopword cut), their sources (tokenizer x field layout) and
the weighted mixes (``LEXICAL``). Shared by the quality side (``bigram_study``) and the
cost side (``bigram_cost``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

FIELD_WEIGHTS = {"title": 2.0, "abstract": 1.0, "claims": 0.5}  # as indexing.build.build_config ships
CLAIMS_MAX = 1500
DEPTH = 200  # candidates per side, as FusionConfig.candidates

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# a CJK run, or an ASCII word/number kept whole (dots inside numbers, a trailing unit sign)
_PIECE = re.compile(rf"([{_CJK}]+)|([0-9a-z]+(?:\.[0-9a-z]+)*[%\u2030\u2103]?)")


# --- tokenization ----------------------------------------------------------------------
@lru_cache(maxsize=4)
def _production(stopwords: frozenset[str]) -> Any:
    from indexing.text.ngrams import NgramTerms

    return NgramTerms(stopwords)


def bigrams(norm: str, stopwords: Iterable[str] = (), *, cut: bool = True) -> list[str]:
    """Index terms of an already normalised text (``indexing.text.normalization.normalize_text``).

    ``cut`` (the shipped variant): exactly ``indexing.text.ngrams.NgramTerms.bigrams``, which
    blanks out multi-character stopwords first, so 所述电池 gives 电池 and not the junk 述电;
    without it only the bigrams that are themselves stopwords are dropped.
    """
    stop = stopwords if isinstance(stopwords, frozenset) else frozenset(stopwords)
    if cut:
        return _production(stop).bigrams(norm)
    out: list[str] = []
    for m in _PIECE.finditer(norm):
        run = m.group(1)
        if run is None or len(run) == 1:
            if (term := run or m.group(2)) not in stop:
                out.append(term)
        else:
            out.extend(b for i in range(len(run) - 1) if (b := run[i:i + 2]) not in stop)
    return out


class BigramTokenizer:
    """``tokenize(text)``: normalise, then :func:`bigrams` with the project stopwords."""

    def __init__(self, *, cut: bool = True, prefix: str = "") -> None:
        from indexing.text.dictionaries import load_stopwords
        from indexing.text.normalization import normalize_text

        self.stopwords, self.cut, self.prefix, self._norm = load_stopwords(), cut, prefix, normalize_text

    def tokenize(self, text: str) -> list[str]:
        return [self.prefix + t for t in bigrams(self._norm(text or ""), self.stopwords, cut=self.cut)]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def tokenizers() -> dict[str, Any]:
    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

    return {"word": ChineseTokenizer(), "char": ChineseTokenizer(TokenizerConfig(mode="chars")),
            "bigram": BigramTokenizer(), "bigram_nocut": BigramTokenizer(cut=False)}


# --- systems -----------------------------------------------------------------------------
# lexical "sources": (tokenizer, fields). "3f" = title 2 / abstract 1 / claims 0.5 as the
# build ships; "ta" = title 2 / abstract 1 (no claims: a smaller index); "1f" = one field
# over title + abstract + claims.
SOURCES: dict[str, tuple[str, str]] = {
    "word": ("word", "3f"), "char": ("char", "3f"), "char_ta": ("char", "ta"),
    "bigram": ("bigram", "3f"), "bigram_nocut": ("bigram_nocut", "3f"),
    "bigram_ta": ("bigram", "ta"), "bigram1f": ("bigram", "1f"),
}


def _mix(**w: float) -> dict[str, float]:
    return {"word": 1.0, **w}


# name -> {source: weight}; score = sum_s weight_s * BM25_s (a score-level sum: the same
# numbers as extra, prefixed fields in one SparseIndex, see the test)
LEXICAL: dict[str, dict[str, float]] = {
    "word": {"word": 1.0}, "char": {"char": 1.0}, "bigram": {"bigram": 1.0},
    "bigram_nocut": {"bigram_nocut": 1.0},
    **{f"word+{w:g}bigram": _mix(bigram=w) for w in (0.25, 0.5, 1.0, 2.0)},
    **{f"word+{w:g}bigram_nocut": _mix(bigram_nocut=w) for w in (0.5, 1.0)},
    **{f"word+{w:g}bigram1f": _mix(bigram1f=w) for w in (0.5, 1.0)},
    "word+1bigram_ta": _mix(bigram_ta=1.0),
    **{f"word+{w:g}char": _mix(char=w) for w in (0.25, 0.5, 1.0)},
    **{f"word+{b:g}bigram+{c:g}char": _mix(bigram=b, char=c)
       for b in (0.5, 1.0, 2.0) for c in (0.25, 0.5, 1.0, 2.0) if (b, c) != (2.0, 0.25)},
    "word+1bigram_ta+0.5char_ta": _mix(bigram_ta=1.0, char_ta=0.5),
}


def field_texts(corpus: Sequence[Any]) -> dict[str, list[str]]:
    return {"title": [r.title or "" for r in corpus], "abstract": [r.abstract or "" for r in corpus],
            "claims": [(r.claims or "")[:CLAIMS_MAX] for r in corpus]}


def source_fields(source: str, texts: dict[str, list[str]], toks: dict[str, Any],
                  prefix: str = "") -> tuple[dict[str, list[list[str]]], dict[str, float]]:
    """Token lists and field weights of one lexical source (field names get ``prefix``)."""
    tok_name, layout = SOURCES[source]
    tok = toks[tok_name]
    if layout == "1f":
        joined = ["。".join(x) for x in zip(*texts.values(), strict=True)]
        return {prefix + "all": tok.tokenize_many(joined)}, {prefix + "all": 1.0}
    fw = {f: w for f, w in FIELD_WEIGHTS.items() if layout == "3f" or f != "claims"}
    return ({prefix + f: tok.tokenize_many(texts[f]) for f in fw},
            {prefix + f: w for f, w in fw.items()})
