"""需求匹配: paste a demand or pick a stored one, see explained patents; a link works."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from patmatch.errors import InputError

from api.services.demands import visible_demand
from api.services.matching import run_demand_match, run_text_match
from api.deps import sunk_patents
from api.schemas import MAX_TEXT, MatchFilters
from api.security import can_see_demand
from api.ui.core import UIRoute, auditor
from api.ui.messages import APPLICANT_TYPE_ZH
from api.ui.render import page
from api.ui.rows import PAGE_SIZE, pages, result_rows
from api.views import chain_aliases

router = APIRouter(route_class=UIRoute, include_in_schema=False)
PICKER_SIZE = 100


def demand_choices(engine: Any, p: Any) -> list[Any]:
    """Stored demands to pick from: a centre's own, or the newest the caller may see."""
    store = engine.store
    aliases = chain_aliases(engine)
    owner = p.centre if p.role == "centre" else None
    if hasattr(store, "list_demands"):
        recs = list(store.list_demands(owner, PICKER_SIZE, 0))
    else:
        recs = list(engine.iter_demands())[:PICKER_SIZE]
    return [r for r in recs if can_see_demand(p, r, aliases)]


def build_match_filters(chain: str, region: str, atype: str, open_only: bool,
                        grade: str = "") -> MatchFilters:
    if atype and atype not in APPLICANT_TYPE_ZH:
        raise InputError(f"unknown applicant type {atype!r}", details={"field": "atype"})
    if grade and grade not in ("A", "B", "C"):
        raise InputError(f"unknown grade {grade!r}", details={"field": "grade"})
    return MatchFilters(chains=[chain] if chain else [], regions=[region] if region else [],
                        applicant_types=[atype] if atype else [],  # type: ignore[list-item]
                        open_license_only=open_only,
                        min_grade=grade or None)  # type: ignore[arg-type]


@router.get("/ui/match")
def match_page(
    request: Request,
    q: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    demand: Annotated[str, Query(max_length=128)] = "",
    chain: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str, Query(max_length=100)] = "",
    atype: Annotated[str, Query(max_length=20)] = "",
    open: Annotated[bool, Query()] = False,  # noqa: A002 - the form's field name
    grade: Annotated[str, Query(max_length=1)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1,
) -> Response:
    audit = auditor(request, "match")
    p = audit.principal
    engine = request.app.state.engine
    q, demand = q.strip(), demand.strip()
    chains = [c for c in engine.chains() if p.sees_chain(c.id)]
    ctx: dict[str, Any] = dict(
        nav="match", q=q, demand=demand, chain=chain, region=region, atype=atype, grade=grade,
        open_only=open, chains=chains, choices=demand_choices(engine, p), rows=None,
        paging=None, demand_rec=None, build_id=None)
    if demand or q:
        flt = build_match_filters(chain, region.strip(), atype, open, grade)
        offset = (page_no - 1) * PAGE_SIZE
        if demand:
            rec = visible_demand(engine, p, demand, audit)
            out = run_demand_match(engine, p, rec, filters=flt, limit=PAGE_SIZE, offset=offset,
                                   sink=sunk_patents(request, rec.id))
            audit("match.demand", target=demand, count=len(out.items))
            ctx["demand_rec"] = rec
        else:
            out = run_text_match(engine, p, q, filters=flt, limit=PAGE_SIZE, offset=offset)
            audit("match.text", query=q, count=len(out.items))
        ctx.update(rows=result_rows(engine, list(out.items)),
                   paging=pages(out.total, page_no), build_id=out.build_id)
    return page(request, "match.html", **ctx)
