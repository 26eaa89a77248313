"""Patents: read one record."""

from __future__ import annotations

from indexing.records import PatentRecord
from patmatch.errors import NotFoundError

from api.services.contracts import ServingEngine


def get_patent(engine: ServingEngine, patent_id: str) -> PatentRecord:
    rec = engine.store.get_patent(patent_id)
    if rec is None:
        raise NotFoundError(f"patent '{patent_id}' not found", details={"id": patent_id})
    return rec
