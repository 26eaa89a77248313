"""Health, readiness and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import EngineDep, require
from api.routers import errors
from api.schemas import FallbackOut, HealthOut, ReadyOut
from api.security import Principal

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="The process is up (no key needed)")
def healthz() -> HealthOut:
    return HealthOut()


@router.get("/readyz", response_model=ReadyOut, responses=errors(503),
            response_model_exclude_none=True,
            summary="A verified bundle is loaded and queries can be served (no key needed)")
def readyz(engine: EngineDep) -> ReadyOut:
    """200 while a bundle that passed its checksum check serves (``status: fallback`` when
    the published one does not verify and an earlier one serves); 503 when none does.
    ``/healthz`` is liveness only."""
    snap = engine.snapshot()
    fb = getattr(engine, "fallback", None)
    if fb is None or fb.serving != snap.build_id:
        return ReadyOut(build_id=snap.build_id)
    return ReadyOut(status="fallback", build_id=snap.build_id,
                    fallback=FallbackOut(published=fb.published, reason=fb.reason,
                                         advice=fb.advice))


@router.get("/metrics", summary="Prometheus metrics (text format; operator/analyst key)",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                       **errors(401, 403)})
def metrics(request: Request,
            _: Annotated[Principal, Depends(require("metrics:read"))]) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(content=body, media_type=content_type)
