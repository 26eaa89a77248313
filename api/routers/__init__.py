"""HTTP routers: they translate requests to engine calls and results to schemas, nothing more."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorOut

_DESCRIPTIONS = {
    400: "bad input (what was expected and what arrived)",
    401: "no API key, or an unknown/revoked one",
    403: "the key's role may not do this",
    404: "no such record, or one this key may not see",
    409: "conflict (id taken, quality gate refused, rebuild running)",
    413: "request body over the size limit",
    422: "request does not match the schema",
    429: "too many failed API key checks from this address (see Retry-After)",
    500: "internal error (an incident id is logged)",
    503: "no index bundle loaded yet",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries, all with the one error shape."""
    return {s: {"model": ErrorOut, "description": _DESCRIPTIONS[s]} for s in statuses}


AUTH = (401, 403, 413, 422, 429, 500)
READ = (*AUTH, 404, 503)
