"""Demands: create, read, list, update, delete, and match a demand against patents."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from patmatch.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError

from api.deps import Auditor, EngineDep, auditor_for
from api.engine import Engine
from api.routers import READ, errors
from api.matching import Paging, run_demand_match
from api.schemas import (RECORD_ID_PATTERN, DemandCreate, DemandOut, DemandUpdate, MatchListOut,
                         Page)
from api.security import Principal, can_see_demand, can_write_demand
from api.views import chain_aliases, demand_out

router = APIRouter(prefix="/v1/demands", tags=["demands"])
DemandId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, examples=["D-2026-0001"])]


def visible_demand(engine: Engine, p: Principal, demand_id: str,
                   audit: Auditor | None = None) -> Any:
    """The record, or 404 for ids that do not exist AND ids this caller may not see.

    A hidden record's 404 is audited (``demands.hidden``): operators can spot a key that
    probes other centres' ids, while the caller learns nothing.
    """
    rec = engine.store.get_demand(demand_id)
    if rec is None or not can_see_demand(p, rec, chain_aliases(engine)):
        if rec is not None and audit is not None:
            audit("demands.hidden", target=demand_id, count=0, status=404)
        raise NotFoundError(f"demand '{demand_id}' not found", details={"id": demand_id})
    return rec


def _check_chain(engine: Engine, p: Principal, chain: str | None) -> str | None:
    """The chain id for a chain id or Chinese name; 400 when unknown or not the centre's."""
    if chain is None:
        return None
    aliases = chain_aliases(engine)
    known = {c.id for c in engine.chains()}
    cid = aliases.get(chain, chain)
    if cid not in known:
        raise InputError(f"chain must be one of {', '.join(sorted(known))} (or its Chinese "
                         f"name); got '{chain}'", details={"chain": chain})
    if p.role == "centre" and cid not in p.chains:
        raise InputError(f"a centre posts demands in its own chains ({', '.join(p.chains)}); "
                         f"got '{chain}'", details={"chain": chain})
    return cid


@router.get("", response_model=Page[DemandOut], responses=errors(*READ),
            summary="List the demands this key may see")
def list_demands(engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("demands:read"))],
                 paging: Annotated[Paging, Depends()],
                 chain: Annotated[str | None, Query(max_length=100)] = None,
                 owner: Annotated[str | None, Query(max_length=100)] = None) -> Page[DemandOut]:
    p = audit.principal
    store = engine.store
    if p.role in ("operator", "analyst") and not chain and hasattr(store, "list_demands"):
        # they see every active demand: let the store page (newest first)
        total = int(store.count_demands(owner))
        page = list(store.list_demands(owner, paging.limit, paging.offset))
    else:
        aliases = chain_aliases(engine)
        want = aliases.get(chain, chain) if chain else None
        seen = [r for r in engine.iter_demands()
                if can_see_demand(p, r, aliases)
                and (not want or aliases.get(r.chain, r.chain) == want)
                and (not owner or r.owner == owner)]
        seen.sort(key=lambda r: r.id)
        total, page = len(seen), seen[paging.offset:paging.offset + paging.limit]
    audit("demands.list", query=f"chain={chain or ''} owner={owner or ''}", count=len(page))
    return Page[DemandOut](total=total, limit=paging.limit, offset=paging.offset,
                           items=[demand_out(engine, p, r) for r in page])


@router.post("", response_model=DemandOut, status_code=201, responses=errors(*READ, 400, 409),
             summary="Post a demand (operators and centres)")
def create_demand(body: DemandCreate, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> DemandOut:
    from indexing.records import DemandRecord

    p = audit.principal
    if p.role != "operator" and (body.id is not None or body.owner is not None):
        raise PermissionDeniedError("only operators choose a demand's id or owner; omit them",
                                    details={"role": p.role})
    if body.chain is None and p.role == "centre" and len(p.chains) == 1:
        body = body.model_copy(update={"chain": p.chains[0]})
    body = body.model_copy(update={"chain": _check_chain(engine, p, body.chain)})
    demand_id = body.id or (f"D-{datetime.now(timezone.utc):%Y%m%d}-"
                            f"{secrets.token_hex(5)}")
    if engine.store.get_demand(demand_id) is not None:
        raise ConflictError(f"demand '{demand_id}' already exists; update it with PATCH",
                            details={"id": demand_id})
    data = body.model_dump(exclude={"id", "owner"}, exclude_none=True)
    owner = p.centre if p.role == "centre" else body.owner
    rec = DemandRecord(id=demand_id, owner=owner, **data)
    engine.store.upsert_demands([rec])
    audit("demands.create", target=demand_id, count=1, status=201)
    return demand_out(engine, p, engine.store.get_demand(demand_id) or rec)


@router.get("/{demand_id}", response_model=DemandOut, responses=errors(*READ),
            summary="Read one demand")
def get_demand(demand_id: DemandId, engine: EngineDep,
               audit: Annotated[Auditor, Depends(auditor_for("demands:read"))]) -> DemandOut:
    rec = visible_demand(engine, audit.principal, demand_id, audit)
    audit("demands.read", target=demand_id, count=1)
    return demand_out(engine, audit.principal, rec)


@router.patch("/{demand_id}", response_model=DemandOut, responses=errors(*READ, 400),
              summary="Change fields of a demand (its centre, or an operator)")
def update_demand(demand_id: DemandId, body: DemandUpdate, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> DemandOut:
    p = audit.principal
    rec = visible_demand(engine, p, demand_id, audit)
    if not can_write_demand(p, rec):
        raise PermissionDeniedError(f"demand '{demand_id}' belongs to another centre; "
                                    "only its centre or an operator may change it",
                                    details={"id": demand_id})
    changes = body.model_dump(exclude_unset=True)
    if changes.get("text", "") is None:
        raise InputError("text may be changed but not removed", details={"field": "text"})
    if "chain" in changes:
        changes["chain"] = _check_chain(engine, p, changes["chain"])
    changes = {k: v for k, v in changes.items() if not (k == "confidential" and v is None)}
    new = dataclasses.replace(rec, **changes)
    if new != rec:
        update = getattr(engine.store, "update_demand", None)
        if update is not None:
            update(new)
        else:
            engine.store.upsert_demands([new])
    audit("demands.update", target=demand_id, count=1)
    return demand_out(engine, p, engine.store.get_demand(demand_id) or new)


@router.delete("/{demand_id}", status_code=204, responses=errors(*READ),
               summary="Withdraw a demand (soft delete; it leaves the next index build)")
def delete_demand(demand_id: DemandId, engine: EngineDep,
                  audit: Annotated[Auditor, Depends(auditor_for("demands:write"))]) -> Response:
    p = audit.principal
    rec = visible_demand(engine, p, demand_id, audit)
    if not can_write_demand(p, rec):
        raise PermissionDeniedError(f"demand '{demand_id}' belongs to another centre",
                                    details={"id": demand_id})
    engine.store.delete_demand(demand_id)
    audit("demands.delete", target=demand_id, count=1, status=204)
    return Response(status_code=204)


@router.get("/{demand_id}/matches", response_model=MatchListOut, responses=errors(*READ),
            summary="Patents matching this demand, explained")
def demand_matches(demand_id: DemandId, engine: EngineDep,
                   audit: Annotated[Auditor, Depends(auditor_for("match"))],
                   paging: Annotated[Paging, Depends()],
                   chain: Annotated[list[str] | None, Query(max_length=20)] = None
                   ) -> MatchListOut:
    rec = visible_demand(engine, audit.principal, demand_id, audit)
    out = run_demand_match(engine, audit.principal, rec, chains=tuple(chain or ()),
                           limit=paging.limit, offset=paging.offset)
    audit("match.demand", target=demand_id, count=len(out.items))
    return out
