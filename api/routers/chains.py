"""Industry chains and the per-chain supply-demand list (供需目录)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import Auditor, EngineDep, Paging, auditor_for
from api.routers import READ, errors
from api.schemas import ChainOut, Page, PairListOut
from api.services.chains import visible_chains
from api.services.matching import run_chain_pairs

router = APIRouter(prefix="/v1/chains", tags=["chains"])


@router.get("", response_model=Page[ChainOut], responses=errors(*READ),
            summary="Industry chains this key may see, with record counts of the served bundle")
def list_chains(engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("chains:read"))],
                paging: Annotated[Paging, Depends()]) -> Page[ChainOut]:
    chains = visible_chains(engine, audit.principal)
    page = chains[paging.offset:paging.offset + paging.limit]
    audit("chains.list", count=len(page))
    return Page[ChainOut](total=len(chains), limit=paging.limit, offset=paging.offset, items=[
        ChainOut(id=c.chain.id, name_zh=c.chain.name_zh, name_en=c.chain.name_en,
                 patents=c.patents, demands=c.demands) for c in page])


@router.get("/{chain}/pairs", response_model=PairListOut, responses=errors(*READ, 400),
            summary="The chain's best (demand, patent) pairs, deduplicated and ranked")
def chain_pairs(chain: Annotated[str, Path(max_length=100, examples=["battery_storage"])],
                engine: EngineDep, audit: Annotated[Auditor, Depends(auditor_for("match"))],
                paging: Annotated[Paging, Depends()]) -> PairListOut:
    out = run_chain_pairs(engine, audit.principal, chain, limit=paging.limit,
                          offset=paging.offset)
    audit("chains.pairs", target=chain, count=len(out.items))
    return out
