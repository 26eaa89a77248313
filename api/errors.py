"""The ONE table from ``patmatch.errors`` classes to HTTP status codes, and the error shape.

Every error response of the service, whatever raised it (our own errors, request
validation, unknown routes, oversized bodies, bugs), is JSON of one shape::

    {"code": "not_found", "message": "demand 'D-1' not found", "details": {}}

Statuses are looked up along the exception's MRO, so a subclass without its own row
inherits its parent's status. Configuration problems (``ConfigError``) are the
operator's to fix: 500 with the message naming the setting, never a 400.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from patmatch import errors as E

from api.throttle import TooManyAuthFailuresError

log = logging.getLogger("patmatch.api")

STATUS_OF: dict[type[E.PatmatchError], int] = {
    E.PatmatchError: 500,
    E.InputError: 400,
    E.PageDepthError: 400,
    E.FileFormatError: 400,
    E.EncodingError: 400,
    E.MissingColumnError: 400,
    E.SpecError: 400,
    E.ConfigError: 500,
    E.RecordValidationError: 422,
    E.NotFoundError: 404,
    E.ConflictError: 409,
    E.LockHeldError: 409,
    E.BundleError: 503,
    E.NoBundleError: 503,
    E.BundleIntegrityError: 503,
    E.BundleMismatchError: 503,
    E.QualityGateError: 409,
    E.AuthenticationError: 401,
    E.PermissionDeniedError: 403,
    E.DependencyError: 503,
}

# Non-PatmatchError statuses (framework-level) get stable codes too.
HTTP_CODES: dict[int, str] = {
    400: "input.invalid",
    401: "auth.required",
    403: "auth.forbidden",
    404: "not_found",
    405: "http.method_not_allowed",
    406: "http.not_acceptable",
    409: "conflict",
    413: "input.too_large",
    415: "input.media_type",
    422: "input.validation",
    429: "http.rate_limited",
    500: "internal",
    503: "unavailable",
}


class PayloadTooLargeError(E.InputError):
    """The request body exceeds the configured limit."""

    code = "input.too_large"


STATUS_OF[PayloadTooLargeError] = 413
STATUS_OF[TooManyAuthFailuresError] = 429
STATUS_OF[E.BusyError] = 503
STATUS_OF[E.StorageFullError] = 503  # the server's disk: unavailable until space is freed


def status_for(exc: E.PatmatchError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return 500


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": dict(details or {})}


def error_response(status: int, code: str, message: str,
                   details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return str(value)


async def _patmatch_handler(request: Request, exc: E.PatmatchError) -> JSONResponse:
    status = status_for(exc)
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    if status in (429, 503) and "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    if status >= 500:
        log.warning("%s %s -> %s %s", request.method, request.url.path, status, exc.message)
    return error_response(status, exc.code, exc.message, _jsonable(exc.details), headers)


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        problems.append({
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        })
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    message = f"invalid request: {where}: {first['msg']}"
    return error_response(422, "input.validation", message, {"errors": problems})


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = (f"method {request.method} not allowed on {request.url.path}; "
                   f"allowed: {', '.join(allowed)}")
    return error_response(exc.status_code, code, message, {}, headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts on this path (Starlette lists one route's only)."""
    from starlette.routing import Match

    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        probe = {**request.scope, "method": method}
        if any(r.matches(probe)[0] == Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    return error_response(500, "internal", "internal server error; the incident id is in the logs",
                          {"incident": incident})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(E.PatmatchError, _patmatch_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled_handler)


# What each status means to a client, documented per route in the OpenAPI document
# (api.routers.errors builds the ``responses`` entries from it).
STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "bad input (what was expected and what arrived)",
    401: "no API key, or an unknown/revoked one",
    403: "the key's role may not do this",
    404: "no such record, or one this key may not see",
    409: "conflict (id taken, quality gate refused, rebuild running)",
    413: "request body over the size limit",
    422: "request does not match the schema",
    429: "too many failed API key checks from this address (see Retry-After)",
    500: "internal or configuration error (an incident id, or the setting to fix)",
    503: "no index bundle loaded yet, or a model/package it needs is missing",
}
ERROR_STATUSES: tuple[int, ...] = tuple(STATUS_DESCRIPTIONS)
