"""Result types: one explained match, a page of matches, a page of (demand, patent) pairs.

``score`` is the fused score: comparable only inside one list, never a percentage or a
"similarity". The component scores and ranks (``lexical_*``, ``semantic_*``) are what a
broker reads to see why a record is here; rank 0 / score None means "not retrieved by
that side".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Highlight:
    """``text[start:end] == term`` where ``text`` is the record's ``field`` (title/abstract/text)."""

    field: str
    start: int
    end: int
    term: str


@dataclass(frozen=True)
class Match:
    record_id: str
    rank: int
    score: float
    lexical_score: float | None
    semantic_score: float | None
    lexical_rank: int
    semantic_rank: int
    chains: tuple[str, ...] = ()
    matched_terms: tuple[str, ...] = ()
    highlights: tuple[Highlight, ...] = ()
    shared_labels: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    title: str = ""
    semantic_pair: tuple[str, str] | None = None
    # grade, trl, licence terms, applicant (type, Chinese type name), region: see
    # matcher/record_facts.py
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["chains"] = list(self.chains)
        d["matched_terms"] = list(self.matched_terms)
        d["highlights"] = [asdict(h) for h in self.highlights]
        d["semantic_pair"] = list(self.semantic_pair) if self.semantic_pair else None
        return d


@dataclass(frozen=True)
class MatchList:
    """One page of a fused list. ``total`` = records in the fused list (at most ``depth``)."""

    query_id: str | None
    direction: str
    total: int
    offset: int
    limit: int
    items: tuple[Match, ...]
    fusion: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    build_id: str | None = None
    query_terms: tuple[str, ...] = ()
    # records of the side that pass the filters (every one of them has a fused score; the
    # list is ranked only ``fusion.depth`` deep, so ``total`` <= min(matching, depth))
    matching: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # noqa: ANN204
        return iter(self.items)

    @property
    def ids(self) -> list[str]:
        return [m.record_id for m in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id, "direction": self.direction, "total": self.total,
            "offset": self.offset, "limit": self.limit, "build_id": self.build_id,
            "fusion": self.fusion, "filters": self.filters,
            "query_terms": list(self.query_terms),
            "items": [m.to_dict() for m in self.items],
        }


@dataclass(frozen=True)
class Pair:
    """One row of a chain's supply-demand list (供需目录)."""

    rank: int
    demand_id: str
    patent_id: str
    score: float
    lexical_score: float | None
    semantic_score: float | None
    lexical_rank: int
    semantic_rank: int
    demand_title: str = ""
    patent_title: str = ""
    matched_terms: tuple[str, ...] = ()
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # the patent's (record_facts.py)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["matched_terms"] = list(self.matched_terms)
        return d


@dataclass(frozen=True)
class PairList:
    chain: str
    total: int
    offset: int
    limit: int
    items: tuple[Pair, ...]
    build_id: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # noqa: ANN204
        return iter(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "total": self.total, "offset": self.offset,
                "limit": self.limit, "build_id": self.build_id,
                "items": [p.to_dict() for p in self.items]}

    def to_polars(self):  # noqa: ANN201
        import polars as pl

        from matcher.record_facts import FACT_COLUMNS

        rows = [p.to_dict() for p in self.items]
        for r in rows:
            r["matched_terms"] = "、".join(r["matched_terms"])
            facts = r.pop("facts") or {}
            r.update({k: facts.get(k) for k in FACT_COLUMNS})
        return pl.DataFrame(rows, schema=_pair_schema()) if rows else pl.DataFrame(schema=_pair_schema())


def _pair_schema() -> dict[str, Any]:
    import polars as pl

    return {"rank": pl.Int64, "demand_id": pl.Utf8, "patent_id": pl.Utf8, "score": pl.Float64,
            "lexical_score": pl.Float64, "semantic_score": pl.Float64,
            "lexical_rank": pl.Int64, "semantic_rank": pl.Int64, "demand_title": pl.Utf8,
            "patent_title": pl.Utf8, "matched_terms": pl.Utf8, "reason": pl.Utf8,
            "grade": pl.Utf8, "trl": pl.Int32, "license_mode": pl.Utf8, "license_fee_wan": pl.Float64,
            "license_fee_period": pl.Utf8, "license_payment": pl.Utf8, "yearly_fee_wan": pl.Float64,
            "applicant": pl.Utf8, "applicant_type": pl.Utf8, "applicant_type_zh": pl.Utf8,
            "region": pl.Utf8}


def __getattr__(name: str) -> Any:  # polars only when a schema is asked for
    if name == "PAIR_SCHEMA":
        return _pair_schema()
    raise AttributeError(name)
