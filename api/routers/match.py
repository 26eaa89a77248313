"""POST /v1/match: free text or a demand id -> explained patent list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from patmatch.errors import InputError

from api.deps import Auditor, EngineDep, auditor_for, sunk_patents
from api.routers import READ, errors
from api.schemas import MatchListOut, MatchRequest
from api.services.demands import visible_demand
from api.services.matching import run_demand_match, run_text_match

router = APIRouter(prefix="/v1", tags=["match"])


@router.post("/match", response_model=MatchListOut, responses=errors(*READ, 400),
             summary="Match free text or a stored demand against patents")
async def match(body: MatchRequest, engine: EngineDep, request: Request,
                audit: Annotated[Auditor, Depends(auditor_for("match"))]) -> MatchListOut:
    # async on purpose: ranking is ~5 ms of CPU under the GIL, so a thread-pool hop buys
    # no parallelism inside a worker process (scale with --workers), only overhead and
    # GIL hand-offs; running it on the loop serves each process's queue in order.
    if (body.text is None) == (body.demand_id is None):
        raise InputError("send exactly one of 'text' or 'demand_id'",
                         details={"text": body.text is not None,
                                  "demand_id": body.demand_id is not None})
    fusion = body.fusion.model_dump(exclude_none=True) if body.fusion else None
    p = audit.principal
    if body.demand_id is not None:
        rec = visible_demand(engine, p, body.demand_id, audit)
        out = run_demand_match(engine, p, rec, filters=body.filters, limit=body.top_k,
                               offset=body.offset, fusion=fusion,
                               sink=sunk_patents(request, rec.id))
        audit("match.demand", target=body.demand_id, count=len(out.items))
    else:
        assert body.text is not None
        out = run_text_match(engine, p, body.text, filters=body.filters, limit=body.top_k,
                             offset=body.offset, fusion=fusion)
        audit("match.text", query=body.text, count=len(out.items))
    return out
