"""The served index, administration (rebuild, publish, rollback, reload, keys) and audit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from patmatch.errors import InputError, PatmatchError

from api.deps import Auditor, EngineDep, auditor_for
from api.matching import Paging
from api.reload import check_now
from api.routers import READ, errors
from api.schemas import (AdminResult, AuditOut, IndexOut, JobOut, KeyCreate, KeyCreatedOut,
                         KeyOut, Page, PublishIn)

router = APIRouter(tags=["admin"])


def _pick(manifest: dict[str, Any], *names: str) -> dict[str, Any]:
    for n in names:
        v = manifest.get(n)
        if isinstance(v, dict):
            return v
    return {}


@router.get("/v1/index", response_model=IndexOut, responses=errors(*READ),
            summary="The bundle being served: build id, counts, fingerprints, quality")
def index_info(engine: EngineDep,
               audit: Annotated[Auditor, Depends(auditor_for("index:read"))]) -> IndexOut:
    snap = engine.snapshot()
    m = snap.manifest
    fingerprints = _pick(m, "fingerprints")
    if not fingerprints:
        fingerprints = {k: m[k] for k in ("tokenizer_fingerprint", "encoder_fingerprint")
                        if isinstance(m.get(k), str)}
    return IndexOut(build_id=snap.build_id, path=str(snap.path), loaded_at=snap.loaded_at,
                    created_at=str(m["created_at"]) if m.get("created_at") else None,
                    counts=_pick(m, "counts"), fingerprints=fingerprints,
                    quality=_pick(m, "quality", "gate"), reload_error=engine.last_reload_error)


def _result(request: Request, action: str, build_id: str | None, swapped: bool) -> AdminResult:
    engine = request.app.state.engine
    snap = engine.current
    return AdminResult(action=action, build_id=build_id, swapped=swapped,
                       serving=snap.build_id if snap else None,
                       reload_error=None if swapped else engine.last_reload_error)


def _switch(request: Request, engine: Any) -> bool:
    """After publish/rollback moved the pointer: switch; a failed load keeps the old one."""
    try:
        return check_now(engine, request.app.state.metrics)
    except PatmatchError:
        return False


@router.post("/v1/admin/rebuild", response_model=JobOut, status_code=202,
             responses=errors(*READ, 409), summary="Build a new bundle from the store (a job)")
def rebuild(request: Request,
            audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> JobOut:
    job = request.app.state.jobs.submit_rebuild(audit.principal)
    audit("admin.rebuild", target=job["job_id"], status=202)
    return JobOut(**job)


@router.post("/v1/admin/publish", response_model=AdminResult, responses=errors(*READ, 400, 409),
             summary="Publish a staged build (quality gate) and switch to it")
def publish(body: PublishIn, request: Request, engine: EngineDep,
            audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> AdminResult:
    build_id = engine.publish(body.build_id, force=body.force)
    swapped = _switch(request, engine)
    audit("admin.publish", target=build_id)
    return _result(request, "publish", build_id, swapped)


@router.post("/v1/admin/rollback", response_model=AdminResult, responses=errors(*READ, 409),
             summary="Make the previous bundle current and switch to it")
def rollback(request: Request, engine: EngineDep,
             audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> AdminResult:
    build_id = engine.rollback()
    swapped = _switch(request, engine)
    audit("admin.rollback", target=build_id)
    return _result(request, "rollback", build_id, swapped)


@router.post("/v1/admin/reload", response_model=AdminResult, responses=errors(*READ),
             summary="Check the published pointer now and switch if it moved")
def reload(request: Request, engine: EngineDep,
           audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> AdminResult:
    swapped = check_now(engine, request.app.state.metrics)
    audit("admin.reload")
    return _result(request, "reload", None, swapped)


@router.get("/v1/audit", response_model=Page[AuditOut], responses=errors(*READ),
            summary="The audit log of data access, newest first (operators)")
def read_audit(request: Request, audit: Annotated[Auditor, Depends(auditor_for("audit:read"))],
               paging: Annotated[Paging, Depends()],
               key_id: Annotated[str | None, Query(max_length=64)] = None,
               action: Annotated[str | None, Query(max_length=64)] = None,
               since: Annotated[str | None, Query(max_length=40,
                                                 examples=["2026-11-24T00:00:00"])] = None
               ) -> Page[AuditOut]:
    total, rows = request.app.state.audit.read(limit=paging.limit, offset=paging.offset,
                                               key_id=key_id, action=action, since=since)
    return Page[AuditOut](total=total, limit=paging.limit, offset=paging.offset,
                          items=[AuditOut(**r.to_dict()) for r in rows])


@router.get("/v1/admin/keys", response_model=Page[KeyOut], responses=errors(*READ),
            summary="API keys (never the keys themselves)")
def list_keys(request: Request, audit: Annotated[Auditor, Depends(auditor_for("admin"))],
              paging: Annotated[Paging, Depends()]) -> Page[KeyOut]:
    keys = request.app.state.keys.list()
    page = keys[paging.offset:paging.offset + paging.limit]
    return Page[KeyOut](total=len(keys), limit=paging.limit, offset=paging.offset,
                        items=[KeyOut(**k.to_dict()) for k in page])


@router.post("/v1/admin/keys", response_model=KeyCreatedOut, status_code=201,
             responses=errors(*READ, 400), summary="Create an API key (shown once)")
def create_key(body: KeyCreate, request: Request, engine: EngineDep,
               audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> KeyCreatedOut:
    known = {c.id for c in engine.chains()}
    unknown = [c for c in body.chains if c not in known]
    if unknown:
        raise InputError(f"unknown chain id(s) {', '.join(unknown)}; expected some of "
                         f"{', '.join(sorted(known))}", details={"unknown": unknown})
    key, info = request.app.state.keys.create(body.name, body.role, centre=body.centre,
                                              chains=tuple(body.chains))
    audit("admin.keys.create", target=info.key_id, status=201)
    return KeyCreatedOut(key=key, **info.to_dict())


@router.delete("/v1/admin/keys/{key_id}", response_model=KeyOut, responses=errors(*READ),
               summary="Revoke an API key")
def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")], request: Request,
               audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> KeyOut:
    info = request.app.state.keys.revoke(key_id)
    audit("admin.keys.revoke", target=key_id)
    return KeyOut(**info.to_dict())
