"""Ranked results -> rows a template shows: highlighted text, contribution bars, badges.

Everything here reads what the API already computed (``MatchOut`` from the API's own
matching functions) plus the stored record for the abstract and the supply facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from api.ui.messages import APPLICANT_TYPE_ZH
from api.ui.render import highlight, spans_from_highlights

PAGE_SIZE = 10
ABSTRACT_CHARS = 260  # a result shows the start of the abstract; the patent page all of it


@dataclass
class ResultRow:
    rank: int
    patent_id: str
    title: Markup
    abstract: Markup
    chains: list[tuple[str, str]]
    lexical_pct: int
    semantic_pct: int
    lexical_score: float | None
    semantic_score: float | None
    score: float
    reason: str
    applicant: str | None = None
    applicant_type: str | None = None
    region: str | None = None
    open_license: bool = False
    license_fee: str | None = None
    grade: str | None = None
    trl: int | None = None
    matched_terms: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def chain_names(engine: Any) -> dict[str, str]:
    return {c.id: c.name_zh for c in engine.chains()}


def _pct(value: float | None, top: float) -> int:
    if value is None or top <= 0:
        return 0
    return max(2, min(100, round(100 * max(value, 0.0) / top))) if value > 0 else 0


def result_rows(engine: Any, items: list[Any]) -> list[ResultRow]:
    """One row per ``MatchOut``; the bars are each side's score relative to the best on
    this page (the two scales differ: BM25 is unbounded, cosine is ≤ 1)."""
    names = chain_names(engine)
    top_lex = max((m.lexical_score or 0.0 for m in items), default=0.0)
    top_sem = max((m.semantic_score or 0.0 for m in items), default=0.0)
    store = engine.store
    rows = []
    for m in items:
        rec = store.get_patent(m.record_id)
        title = (rec.title if rec else m.title) or ""
        abstract = rec.abstract if rec else ""
        terms = list(m.matched_terms)
        t_spans = spans_from_highlights(title, m.highlights, "title", terms)
        shown = abstract[:ABSTRACT_CHARS]
        a_spans = [(s, e) for s, e in spans_from_highlights(abstract, m.highlights, "abstract",
                                                             terms) if e <= len(shown)]
        extra = getattr(m, "model_extra", None) or {}
        rows.append(ResultRow(
            rank=m.rank, patent_id=m.record_id, title=highlight(title, t_spans),
            abstract=highlight(shown, a_spans) + ("…" if len(abstract) > len(shown) else ""),
            chains=[(c, names.get(c, c)) for c in m.chains],
            lexical_pct=_pct(m.lexical_score, top_lex),
            semantic_pct=_pct(m.semantic_score, top_sem),
            lexical_score=m.lexical_score, semantic_score=m.semantic_score, score=m.score,
            reason=m.reason, matched_terms=terms,
            applicant=getattr(rec, "applicant", None),
            applicant_type=APPLICANT_TYPE_ZH.get(getattr(rec, "applicant_type", None) or "",
                                                 getattr(rec, "applicant_type", None)),
            region=getattr(rec, "region", None),
            open_license=bool(getattr(rec, "open_license", False)),
            license_fee=fee_text(m) or getattr(rec, "license_fee", None),
            grade=_first(m, extra, "grade"), trl=_first(m, extra, "trl"), extra=extra))
    return rows


def fee_text(m: Any) -> str | None:
    """The structured licence fee of a match result (issue 15), e.g. 3 万元/年（按年）."""
    fee = getattr(m, "license_fee_wan", None)
    if fee is None:
        return None
    period = getattr(m, "license_fee_period", None)
    payment = getattr(m, "license_payment", None)
    return f"{fee:g} 万元" + (f"/{period}" if period else "") + (f"（{payment}）" if payment else "")


def _first(m: Any, extra: dict[str, Any], name: str) -> Any:
    """A label the match result carries (issue 15 adds them), wherever it sits."""
    value = getattr(m, name, None)
    if value is None:
        value = extra.get(name)
    if isinstance(value, dict):
        value = value.get("value") or value.get("grade") or value.get("level")
    if value is None and isinstance(m.shared_labels, dict):
        value = m.shared_labels.get(name)
    return value


def pages(total: int, page: int, size: int = PAGE_SIZE) -> dict[str, int]:
    last = max(1, -(-int(total) // size))
    return {"page": page, "last": last, "total": int(total), "size": size}
