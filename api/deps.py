"""FastAPI dependencies: the engine, the caller, permissions, the audit log.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in the thread
pool, and these do microseconds of work (a dict lookup; a small SQLite read every
``KeyStore.CACHE_SECONDS``), so a thread hop each (5 per request) cost more than the
work itself (measured ~0.1-0.2 ms each under load on 2 cores)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from patmatch.errors import AuthenticationError

from api.audit import AuditLog
from api.security import KeyStore, Principal
from api.services.contracts import ServingEngine

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="API key created with `patmatch keys create`")
_bearer = HTTPBearer(auto_error=False, description="the same API key as a bearer token")


async def get_engine(request: Request) -> ServingEngine:
    return request.app.state.engine


async def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys


async def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit


def sunk_patents(request: Request, demand_id: str) -> frozenset[str]:
    """Patents rejected as 不相关 for a demand (they sink to the end of its lists)."""
    push = getattr(request.app.state, "push", None)
    return frozenset(push.rejected_irrelevant(demand_id)) if push is not None else frozenset()


async def get_principal(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    key = api_key or (bearer.credentials if bearer else None)
    throttle = request.app.state.auth_throttle
    address = request.client.host if request.client else "unknown"
    throttle.check(address)
    try:
        principal = request.app.state.keys.verify(key)
    except AuthenticationError:
        throttle.failed(address)
        raise
    throttle.succeeded(address)
    request.state.principal = principal
    return principal


def require(action: str) -> Callable[..., Principal]:
    """Dependency: an authenticated caller whose role may do ``action`` (else 401/403)."""

    async def dep(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        principal.require(action)
        return principal

    dep.__name__ = f"require_{action.replace(':', '_')}"
    return dep


class Auditor:
    """Bound to one request: ``audit(action, target=..., query=..., count=...)``."""

    def __init__(self, request: Request, principal: Principal, log: AuditLog) -> None:
        self.request, self.principal, self.log = request, principal, log

    def __call__(self, action: str, *, target: str | None = None, query: str | None = None,
                 count: int | None = None, status: int = 200) -> None:
        self.log.record(self.principal, method=self.request.method,
                        path=self.request.url.path, action=action, target=target,
                        query=query, result_count=count, status=status)


def auditor_for(action: str) -> Callable[..., Any]:
    perm = require(action)

    # a default, not Annotated: ``perm`` is local and string annotations cannot see it
    async def dep(request: Request, principal: Principal = Depends(perm)) -> Auditor:  # noqa: B008
        return Auditor(request, principal, request.app.state.audit)

    return dep


async def reject_repeated_scalars(request: Request) -> None:
    """``?limit=1&limit=2`` is an error, not "the last one wins" (FastAPI's default)."""
    from typing import get_args, get_origin

    keys = request.query_params.keys()
    repeated = {k for k in keys if len(request.query_params.getlist(k)) > 1}
    if not repeated:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    def query_fields(dep: Any) -> Iterator[Any]:
        yield from getattr(dep, "query_params", ())
        for sub in getattr(dep, "dependencies", ()):
            yield from query_fields(sub)

    for field in query_fields(dependant):
        if field.alias not in repeated:
            continue
        ann = field.field_info.annotation
        kinds = {get_origin(ann), *(get_origin(a) for a in get_args(ann))}
        if not kinds & {list, tuple, set}:
            n = len(request.query_params.getlist(field.alias))
            raise RequestValidationError([{
                "loc": ("query", field.alias), "type": "repeated",
                "msg": f"takes one value; got {n}"}])


EngineDep = Annotated[ServingEngine, Depends(get_engine)]


@dataclass
class Paging:
    """``limit``/``offset`` query parameters shared by every list endpoint."""

    limit: int = Query(20, ge=1, le=200, description="page size")
    offset: int = Query(0, ge=0, le=10_000, description="items to skip")
