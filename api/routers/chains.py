"""Industry chains and the per-chain supply-demand list (供需目录)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from api.deps import Auditor, EngineDep, auditor_for
from api.matching import Paging, run_chain_pairs
from api.routers import READ, errors
from api.schemas import ChainOut, Page, PairListOut

router = APIRouter(prefix="/v1/chains", tags=["chains"])


def _per_chain(manifest: dict[str, Any], side: str) -> dict[str, int]:
    counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
    per = counts.get(side, {}) if isinstance(counts, dict) else {}
    per = per.get("per_chain", per) if isinstance(per, dict) else {}
    return {str(k): int(v) for k, v in per.items() if isinstance(v, int)} \
        if isinstance(per, dict) else {}


@router.get("", response_model=Page[ChainOut], responses=errors(*READ),
            summary="Industry chains this key may see, with record counts of the served bundle")
def list_chains(engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("chains:read"))],
                paging: Annotated[Paging, Depends()]) -> Page[ChainOut]:
    p = audit.principal
    snap = engine.current
    manifest = snap.manifest if snap else {}
    pat, dem = _per_chain(manifest, "patents"), _per_chain(manifest, "demands")
    chains = [c for c in engine.chains() if p.sees_chain(c.id)]
    page = chains[paging.offset:paging.offset + paging.limit]
    audit("chains.list", count=len(page))
    return Page[ChainOut](total=len(chains), limit=paging.limit, offset=paging.offset, items=[
        ChainOut(id=c.id, name_zh=c.name_zh, name_en=c.name_en, patents=pat.get(c.id),
                 demands=dem.get(c.id)) for c in page])


@router.get("/{chain}/pairs", response_model=PairListOut, responses=errors(*READ),
            summary="The chain's best (demand, patent) pairs, deduplicated and ranked")
def chain_pairs(chain: Annotated[str, Path(max_length=100, examples=["battery_storage"])],
                engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("match"))],
                paging: Annotated[Paging, Depends()]) -> PairListOut:
    out = run_chain_pairs(engine, audit.principal, chain, limit=paging.limit,
                          offset=paging.offset)
    audit("chains.pairs", target=chain, count=len(out.items))
    return out
