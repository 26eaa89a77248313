"""专利详情 (labels, reverse list patent → enterprises) and 产业链 (counts, supply–demand pairs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.schemas import RECORD_ID_PATTERN
from api.services import patents as patent_service
from api.services.chains import known_chain, visible_chains
from api.services.patents import current_labels
from api.services.matching import run_chain_pairs, run_patent_match
from api.ui.core import UIRoute, auditor
from api.ui.messages import APPLICANT_TYPE_ZH
from api.ui.render import page
from api.ui.rows import chain_names, pages

router = APIRouter(route_class=UIRoute, include_in_schema=False)
PAIRS_SIZE = 20
REVERSE_SIZE = 10


@router.get("/ui/patents/{patent_id}")
def patent_detail(request: Request, patent_id: Annotated[str, Path(pattern=RECORD_ID_PATTERN)],
                  page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1) -> Response:
    audit = auditor(request, "patents:read")
    p, engine = audit.principal, request.app.state.engine
    rec = patent_service.get_patent(engine, patent_id)
    audit("patents.read", target=patent_id, count=1)
    labels = current_labels(engine, rec)
    reverse, paging = None, None
    if p.allowed("match"):
        out = run_patent_match(engine, p, patent_id, limit=REVERSE_SIZE,
                               offset=(page_no - 1) * REVERSE_SIZE)
        audit("match.patent", target=patent_id, count=len(out.items))
        reverse = []
        for m in out.items:
            d = engine.store.get_demand(m.record_id)  # visible: run_patent_match filtered
            reverse.append({"id": m.record_id, "title": (d.title if d else None) or m.title,
                            "enterprise": getattr(d, "enterprise", None),
                            "region": getattr(d, "region", None), "reason": m.reason})
        paging = pages(out.total, page_no, REVERSE_SIZE)
    return page(request, "patent.html", nav="", rec=rec, labels=labels, reverse=reverse,
                paging=paging, atype=APPLICANT_TYPE_ZH.get(rec.applicant_type or "",
                                                           rec.applicant_type))


@router.get("/ui/chains")
def chain_list(request: Request) -> Response:
    audit = auditor(request, "chains:read")
    rows = visible_chains(request.app.state.engine, audit.principal)
    audit("chains.list", count=len(rows))
    return page(request, "chains.html", nav="chains", rows=rows)


@router.get("/ui/chains/{chain}")
def chain_detail(request: Request, chain: Annotated[str, Path(max_length=100)],
                 page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1) -> Response:
    audit = auditor(request, "match")
    engine = request.app.state.engine
    cid = known_chain(engine, audit.principal, chain)
    out = run_chain_pairs(engine, audit.principal, cid, limit=PAIRS_SIZE,
                          offset=(page_no - 1) * PAIRS_SIZE)
    audit("chains.pairs", target=cid, count=len(out.items))
    return page(request, "chain.html", nav="chains", cid=cid,
                name=chain_names(engine).get(cid, cid), out=out,
                paging=pages(out.total, page_no, PAIRS_SIZE))
