"""What a clause is, and which clauses say nothing (the semantic pair's raw material).

- ``clauses``: punctuation-split content clauses, patent lead-ins (本发明公开了一种) cut,
  deal terms (budget, cooperation mode, contact) dropped; ``record_clauses`` /
  ``labelled_clauses``: a record's first 12 clauses and those of its labelled problem and
  effect (labeling_spec).
- ``Boilerplate``: clause heads and whole clauses too common in a corpus to explain
  anything (与现有技术相比, 本发明公开了, 我们公司主要做 ...), learned from document frequency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

CLAUSE = re.compile(r"[^，,。；;！!？?\n、：:（）()【】\[\]“”\"]+")
# a labelled problem/effect clause wins a semantic pair over a plain abstract clause
# unless that clause is clearly closer (cosine margin): it says what the patent solves
LABELLED_FIELDS = ("problem", "effect")
LABELLED_PREFERENCE = 0.08


def _norm(text: str) -> str:
    from indexing.text.normalization import normalize_text

    return normalize_text(text)


_BOILER = re.compile(r"合作|转让|许可|预算|万元|联系|本发明|本实用新型|公开了|涉及")
_LEAD = re.compile(r"^(本发明|本实用新型)?(公开了|提供了|涉及)?(一种)?")


class Boilerplate:
    """Clause heads and whole clauses too common in a corpus to explain anything
    (与现有技术相比, 本发明公开了, 我们公司主要做, 该方案中 ...), learned from document
    frequency rather than listed by hand: a clause (or a clause's first 3-10 characters)
    that occurs in at least ``share`` of the records (a whole clause: ``whole_share``), and
    in at least ``min_count`` of them.
    ``strip`` drops such a clause, or cuts its longest such head."""

    def __init__(self, heads: Iterable[str] = (), whole: Iterable[str] = ()) -> None:
        self.heads = frozenset(heads)
        self.whole = frozenset(whole)
        self._lens = sorted({len(h) for h in self.heads}, reverse=True)

    @classmethod
    def learn(cls, texts: Iterable[str], *, share: float = 0.02, min_count: int = 20,
              min_head: int = 3, max_head: int = 10, whole_share: float = 0.005) -> Boilerplate:
        from collections import Counter

        heads: Counter[str] = Counter()
        whole: Counter[str] = Counter()
        n = 0
        for text in texts:
            n += 1
            cs = [c.strip() for c in CLAUSE.findall(_norm(text or ""))]
            whole.update({c for c in cs if c})
            heads.update({c[:k] for c in cs for k in range(min_head, min(max_head, len(c) - 1) + 1)})
        # a whole clause repeated verbatim in 0.5 % of the records is a formula (与现有技术相比
        # is in 0.8 % of KPPatent-ZH); a head cuts clauses, so it needs the higher share
        limit = max(min_count, share * n)
        whole_limit = max(min_count, min(share, whole_share) * n)
        return cls((h for h, k in heads.items() if k >= limit),
                   (c for c, k in whole.items() if k >= whole_limit))

    def __bool__(self) -> bool:
        return bool(self.heads or self.whole)

    def strip(self, clause: str) -> str:
        c = clause.strip()
        norm = _norm(c)
        if norm in self.whole:
            return ""
        for k in self._lens:
            if k < len(norm) and norm[:k] in self.heads:
                return c[k:].strip()
        return c


def clauses(text: str, *, min_chars: int = 4) -> list[str]:
    """Content clauses: punctuation-split, patent boilerplate heads stripped, deal terms
    (budget, cooperation mode, contact) dropped."""
    return list(_clauses(text or "", min_chars))


@lru_cache(maxsize=1 << 15)
def _clauses(text: str, min_chars: int) -> tuple[str, ...]:
    """``clauses`` memoised (a tuple, so no caller can change the cached value): the
    same records' fields are split again for every query that ranks them."""
    out = []
    for c in CLAUSE.findall(text or ""):
        c = _LEAD.sub("", c.strip())
        if len(c) >= min_chars and not _BOILER.search(c):
            out.append(c)
    return tuple(out)


def record_clauses(doc: Mapping[str, Any], text_fields: Sequence[str]) -> list[str]:
    """The record clauses a semantic pair is chosen from: the first 12 of its fields."""
    return [c for f in text_fields for c in _clauses(str(doc.get(f) or ""), 4)][:12]


def labelled_clauses(doc: Mapping[str, Any]) -> list[str]:
    """Clauses of the record's labelled problem and effect (labeling_spec): the sentences
    a broker can repeat as "it solves X" / "it achieves Y"."""
    return [c for k in LABELLED_FIELDS for c in _clauses(str(doc.get(k) or ""), 4)][:6]


SIDE_TEXT_FIELDS = {"patents": ("title", "abstract"), "demands": ("title", "text")}


def learn_boilerplate(columns: Mapping[str, Mapping[str, Sequence[Any]] | None]) -> Boilerplate:
    """One ``Boilerplate`` from each side's display columns (side -> column -> values),
    learned per side: demand boilerplate (我们公司主要做) is common among demands only."""
    heads: set[str] = set()
    whole: set[str] = set()
    for name, fields in SIDE_TEXT_FIELDS.items():
        cols = columns.get(name)
        if cols:
            n = len(next(iter(cols.values()), []))
            side_bp = Boilerplate.learn("。".join(str(cols[f][i] or "") for f in fields if f in cols)
                                        for i in range(n))
            heads |= side_bp.heads
            whole |= side_bp.whole
    return Boilerplate(heads, whole)
