"""HTTP routers: they translate requests to engine calls and results to schemas, nothing more."""

from __future__ import annotations

from typing import Any

from api.errors import STATUS_DESCRIPTIONS
from api.schemas import ErrorOut


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries, all with the one error shape."""
    return {s: {"model": ErrorOut, "description": STATUS_DESCRIPTIONS[s]} for s in statuses}


AUTH = (401, 403, 413, 422, 429, 500)
READ = (*AUTH, 404, 503)
