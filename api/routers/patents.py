"""Patents: read one, and find the demands it could serve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import Auditor, EngineDep, Paging, auditor_for
from api.routers import READ, errors
from api.schemas import RECORD_ID_PATTERN, MatchListOut, PatentOut
from api.services.matching import run_patent_match
from api.services.patents import current_labels
from api.services.patents import get_patent as read_patent
from api.views import patent_out

router = APIRouter(prefix="/v1/patents", tags=["patents"])
PatentId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, examples=["CN115000000A"])]


@router.get("/{patent_id}", response_model=PatentOut, responses=errors(*READ),
            summary="Read one patent")
def get_patent(patent_id: PatentId, engine: EngineDep,
               audit: Annotated[Auditor, Depends(auditor_for("patents:read"))]) -> PatentOut:
    rec = read_patent(engine, patent_id)
    audit("patents.read", target=patent_id, count=1)
    out = patent_out(rec)
    return out.model_copy(update={"labels": current_labels(engine, rec)})


@router.get("/{patent_id}/demands", response_model=MatchListOut, responses=errors(*READ, 400),
            summary="Demands this patent could serve (only demands this key may see)")
def patent_demands(patent_id: PatentId, engine: EngineDep,
                   audit: Annotated[Auditor, Depends(auditor_for("match"))],
                   paging: Annotated[Paging, Depends()],
                   chain: Annotated[list[str] | None, Query(max_length=20)] = None
                   ) -> MatchListOut:
    out = run_patent_match(engine, audit.principal, patent_id, limit=paging.limit,
                           offset=paging.offset, chains=tuple(chain or ()))
    audit("match.patent", target=patent_id, count=len(out.items))
    return out
