"""The served index, administration (rebuild, publish, rollback, reload, keys) and audit."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import Auditor, EngineDep, Paging, auditor_for
from api.routers import READ, errors
from api.schemas import (AdminResult, AuditOut, IndexOut, JobOut, KeyCreate, KeyCreatedOut,
                         KeyOut, Page, PublishIn)
from api.services import admin as admin_service

router = APIRouter(tags=["admin"])


@router.get("/v1/index", response_model=IndexOut, responses=errors(*READ),
            summary="The bundle being served: build id, counts, fingerprints, quality")
def index_info(engine: EngineDep, request: Request,
               audit: Annotated[Auditor, Depends(auditor_for("index:read"))]) -> IndexOut:
    return IndexOut(**admin_service.served_index(engine),
                    pushes=admin_service.push_counts(request.app.state.push.engine,
                                                     request.app.state.settings))


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
    outcome = admin_service.publish(engine, request.app.state.metrics, body.build_id,
                                    force=body.force)
    audit("admin.publish", target=outcome.build_id)
    return AdminResult(**dataclasses.asdict(outcome))


@router.post("/v1/admin/rollback", response_model=AdminResult, responses=errors(*READ, 409),
             summary="Make the previous bundle current and switch to it")
def rollback(request: Request, engine: EngineDep,
             audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> AdminResult:
    outcome = admin_service.rollback(engine, request.app.state.metrics)
    audit("admin.rollback", target=outcome.build_id)
    return AdminResult(**dataclasses.asdict(outcome))


@router.post("/v1/admin/reload", response_model=AdminResult, responses=errors(*READ),
             summary="Check the published pointer now and switch if it moved")
def reload(request: Request, engine: EngineDep,
           audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> AdminResult:
    outcome = admin_service.reload(engine, request.app.state.metrics)
    audit("admin.reload")
    return AdminResult(**dataclasses.asdict(outcome))


@router.get("/v1/audit", response_model=Page[AuditOut], responses=errors(*READ),
            summary="The audit log of data access, newest first (operators)")
def read_audit(request: Request, audit: Annotated[Auditor, Depends(auditor_for("audit:read"))],
               paging: Annotated[Paging, Depends()],
               key_id: Annotated[str | None, Query(max_length=64)] = None,
               action: Annotated[str | None, Query(max_length=64)] = None,
               since: Annotated[str | None, Query(max_length=40,
                                                 examples=["2026-11-24T00:00:00"])] = None
               ) -> Page[AuditOut]:
    total, entries = request.app.state.audit.read(limit=paging.limit, offset=paging.offset,
                                               key_id=key_id, action=action, since=since)
    return Page[AuditOut](total=total, limit=paging.limit, offset=paging.offset,
                          items=[AuditOut(**entry.to_dict()) for entry in entries])


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
    key, info = admin_service.create_key(engine, request.app.state.keys, body.name, body.role,
                                         centre=body.centre, chains=tuple(body.chains))
    audit("admin.keys.create", target=info.key_id, status=201)
    return KeyCreatedOut(key=key, **info.to_dict())


@router.delete("/v1/admin/keys/{key_id}", response_model=KeyOut, responses=errors(*READ),
               summary="Revoke an API key")
def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")], request: Request,
               audit: Annotated[Auditor, Depends(auditor_for("admin"))]) -> KeyOut:
    info = request.app.state.keys.revoke(key_id)
    audit("admin.keys.revoke", target=key_id)
    return KeyOut(**info.to_dict())
