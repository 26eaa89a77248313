"""Which matched terms are worth showing as a reason (BM25 still scores them all).

A word, not a character n-gram; not a term common to a large share of the target side
(技术, 提高, 方法); and of overlapping search-mode tokens only the longest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexing.text.ngrams import is_ngram

_CJK = re.compile(r"[\u3400-\u9fff]")

# A term in more than this share of the target side's records explains nothing (技术,
# 提高, 方法): it still counts in BM25, it is just not shown as a reason. Small corpora
# (tests, a pilot chain) keep every term: the share is meaningless below ~1,000 records.
GENERIC_DF = 0.05


def generic_df_limit(n_records: int) -> float:
    return max(GENERIC_DF * n_records, 50.0)


def informative(term: str) -> bool:
    """Terms worth showing: two+ CJK characters, or a code/number with letters (e.g. 5g).
    Never a character n-gram (§/¶-prefixed BM25 terms): they score, words explain."""
    if is_ngram(term):
        return False
    if len(_CJK.findall(term)) >= 2:
        return True
    return len(term) >= 2 and not _CJK.search(term) and any(c.isalpha() for c in term)


def dedupe_terms(terms: Sequence[str], limit: int | None = None) -> list[str]:
    """In order, keep a term unless it is part of a kept term; a kept term that turns out
    to be part of a later one is replaced by it (search-mode tokens overlap: 锂电, 电池,
    锂电池 -> 锂电池). Stops at ``limit`` kept terms."""
    kept: list[str] = []
    joined = ""  # kept terms joined by NUL: one C-level search instead of a Python loop
    for t in dict.fromkeys(terms):
        if t in joined:
            continue
        if any(u in t for u in kept):
            inner = [i for i, u in enumerate(kept) if u in t]
            kept[inner[0]] = t
            for i in reversed(inner[1:]):
                del kept[i]
        else:
            kept.append(t)
            if limit is not None and len(kept) >= limit:
                break
        joined = "\x00".join(kept)
    return kept
