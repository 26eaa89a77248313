"""Demands on behalf of a caller: visibility, ownership, ids, chain scoping, store writes."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from indexing.intake.validation import validate_demand
from indexing.records import DemandRecord
from patmatch.errors import InputError, NotFoundError, PermissionDeniedError

from api.security import Principal, can_see_demand, can_write_demand
from api.services.contracts import ServingEngine
from api.views import chain_aliases

# audit(action, target=..., count=..., status=...): the router's bound audit logger
AuditHook = Callable[..., None]


def visible_demand(engine: ServingEngine, p: Principal, demand_id: str,
                   audit: AuditHook | None = None) -> DemandRecord:
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


def demand_chain(engine: ServingEngine, p: Principal, chain: str | None) -> str | None:
    """The chain id for a chain id or Chinese name; 400 when unknown or not the centre's."""
    if chain is None:
        return None
    aliases = chain_aliases(engine)
    known = {c.id for c in engine.chains()}
    chain_id = aliases.get(chain, chain)
    if chain_id not in known:
        raise InputError(f"chain must be one of {', '.join(sorted(known))} (or its Chinese "
                         f"name); got '{chain}'", details={"chain": chain})
    if p.role == "centre" and chain_id not in p.chains:
        raise InputError(f"a centre posts demands in its own chains ({', '.join(p.chains)}); "
                         f"got '{chain}'", details={"chain": chain})
    return chain_id


def list_visible_demands(engine: ServingEngine, p: Principal, *, chain: str | None,
                         owner: str | None, limit: int,
                         offset: int) -> tuple[int, list[DemandRecord]]:
    """(total, page) of the demands this caller may see, optionally of one chain/owner."""
    store = engine.store
    if not chain and (p.role in ("operator", "analyst")
                      or (p.role == "centre" and owner is not None and owner == p.centre)):
        # every active demand (operators, analysts) or every active demand of one's own
        # centre is visible: let the store page (newest first) instead of decrypting all
        return int(store.count_demands(owner)), list(store.list_demands(owner, limit, offset))
    aliases = chain_aliases(engine)
    wanted_chain = aliases.get(chain, chain) if chain else None
    seen = [r for r in engine.iter_demands()
            if can_see_demand(p, r, aliases)
            and (not wanted_chain or aliases.get(r.chain, r.chain) == wanted_chain)
            and (not owner or r.owner == owner)]
    seen.sort(key=lambda r: r.id)
    return len(seen), seen[offset:offset + limit]


def new_demand_id() -> str:
    return f"D-{datetime.now(timezone.utc):%Y%m%d}-{secrets.token_hex(5)}"


def create_demand(engine: ServingEngine, p: Principal, fields: dict[str, Any], *,
                  demand_id: str | None = None, owner: str | None = None) -> DemandRecord:
    """Store a new demand. Only operators choose its id or owner; a centre owns its own."""
    if p.role != "operator" and (demand_id is not None or owner is not None):
        raise PermissionDeniedError("only operators choose a demand's id or owner; omit them",
                                    details={"role": p.role})
    fields = dict(fields)
    chain = fields.get("chain")
    if chain is None and p.role == "centre" and len(p.chains) == 1:
        chain = p.chains[0]
    chain = demand_chain(engine, p, chain)
    fields.pop("chain", None)
    if chain is not None:
        fields["chain"] = chain
    demand_id = demand_id or new_demand_id()
    # the one validation path ingest uses: dates, phones, e-mails, HTML, PII in free text
    rec = validate_demand({**fields, "id": demand_id,
                           "owner": p.centre if p.role == "centre" else owner})
    # insert-only, no check before it (a check-then-insert races): a taken id, also one
    # taken a moment ago by another worker, is the store's ConflictError (409, "demand
    # '<id>' already exists; update it with PATCH")
    engine.store.insert_demand(rec)
    return engine.store.get_demand(demand_id) or rec


def update_demand(engine: ServingEngine, p: Principal, demand_id: str,
                  changes: dict[str, Any], audit: AuditHook | None = None) -> DemandRecord:
    """Apply the fields a caller sent (its centre, or an operator, may change a demand)."""
    rec = visible_demand(engine, p, demand_id, audit)
    if not can_write_demand(p, rec):
        raise PermissionDeniedError(f"demand '{demand_id}' belongs to another centre; "
                                    "only its centre or an operator may change it",
                                    details={"id": demand_id})
    changes = dict(changes)
    if changes.get("text", "") is None:
        raise InputError("text may be changed but not removed", details={"field": "text"})
    if "chain" in changes:
        changes["chain"] = demand_chain(engine, p, changes["chain"])
    changes = {k: v for k, v in changes.items() if not (k == "confidential" and v is None)}
    # applied to the stored record under its row lock: a concurrent PATCH of other fields
    # (another worker) is kept, not overwritten with what this request read
    new = engine.store.change_demand(
        demand_id, lambda cur: validate_demand({**dataclasses.asdict(cur), **changes}))
    return engine.store.get_demand(demand_id) or new


def delete_demand(engine: ServingEngine, p: Principal, demand_id: str,
                  audit: AuditHook | None = None) -> None:
    """Withdraw a demand (soft delete: it leaves the next index build)."""
    rec = visible_demand(engine, p, demand_id, audit)
    if not can_write_demand(p, rec):
        raise PermissionDeniedError(f"demand '{demand_id}' belongs to another centre",
                                    details={"id": demand_id})
    engine.store.delete_demand(demand_id)
