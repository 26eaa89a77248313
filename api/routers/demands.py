"""Demands: create, read, list, update, delete, and match a demand against patents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import Auditor, EngineDep, Paging, auditor_for, sunk_patents
from api.routers import READ, errors
from api.schemas import (RECORD_ID_PATTERN, DemandCreate, DemandOut, DemandUpdate, MatchListOut,
                         Page)
from api.services import demands as demand_service
from api.services.matching import run_demand_match
from api.views import demand_out

router = APIRouter(prefix="/v1/demands", tags=["demands"])
DemandId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, examples=["D-2026-0001"])]


@router.get("", response_model=Page[DemandOut], responses=errors(*READ),
            summary="List the demands this key may see")
def list_demands(engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("demands:read"))],
                 paging: Annotated[Paging, Depends()],
                 chain: Annotated[str | None, Query(max_length=100)] = None,
                 owner: Annotated[str | None, Query(max_length=100)] = None) -> Page[DemandOut]:
    p = audit.principal
    total, page = demand_service.list_visible_demands(engine, p, chain=chain, owner=owner,
                                                      limit=paging.limit, offset=paging.offset)
    audit("demands.list", query=f"chain={chain or ''} owner={owner or ''}", count=len(page))
    return Page[DemandOut](total=total, limit=paging.limit, offset=paging.offset,
                           items=[demand_out(engine, p, r) for r in page])


@router.post("", response_model=DemandOut, status_code=201, responses=errors(*READ, 400, 409),
             summary="Post a demand (operators and centres)")
def create_demand(body: DemandCreate, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> DemandOut:
    rec = demand_service.create_demand(
        engine, audit.principal, body.model_dump(exclude={"id", "owner"}, exclude_none=True),
        demand_id=body.id, owner=body.owner)
    audit("demands.create", target=rec.id, count=1, status=201)
    return demand_out(engine, audit.principal, rec)


@router.get("/{demand_id}", response_model=DemandOut, responses=errors(*READ),
            summary="Read one demand")
def get_demand(demand_id: DemandId, engine: EngineDep,
               audit: Annotated[Auditor, Depends(auditor_for("demands:read"))]) -> DemandOut:
    rec = demand_service.visible_demand(engine, audit.principal, demand_id, audit)
    audit("demands.read", target=demand_id, count=1)
    return demand_out(engine, audit.principal, rec)


@router.patch("/{demand_id}", response_model=DemandOut, responses=errors(*READ, 400),
              summary="Change fields of a demand (its centre, or an operator)")
def update_demand(demand_id: DemandId, body: DemandUpdate, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> DemandOut:
    rec = demand_service.update_demand(engine, audit.principal, demand_id,
                                       body.model_dump(exclude_unset=True), audit)
    audit("demands.update", target=demand_id, count=1)
    return demand_out(engine, audit.principal, rec)


@router.delete("/{demand_id}", status_code=204, responses=errors(*READ),
               summary="Withdraw a demand (soft delete; it leaves the next index build)")
def delete_demand(demand_id: DemandId, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> Response:
    demand_service.delete_demand(engine, audit.principal, demand_id, audit)
    audit("demands.delete", target=demand_id, count=1, status=204)
    return Response(status_code=204)


@router.get("/{demand_id}/matches", response_model=MatchListOut, responses=errors(*READ, 400),
            summary="Patents matching this demand, explained")
def demand_matches(demand_id: DemandId, engine: EngineDep, request: Request,
                   audit: Annotated[Auditor, Depends(auditor_for("match"))],
                   paging: Annotated[Paging, Depends()],
                   chain: Annotated[list[str] | None, Query(max_length=20)] = None
                   ) -> MatchListOut:
    rec = demand_service.visible_demand(engine, audit.principal, demand_id, audit)
    out = run_demand_match(engine, audit.principal, rec, chains=tuple(chain or ()),
                           limit=paging.limit, offset=paging.offset,
                           sink=sunk_patents(request, rec.id))
    audit("match.demand", target=demand_id, count=len(out.items))
    return out
