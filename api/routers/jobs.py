"""Batch match jobs: upload a demand file, poll, download the result."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.convertors import StringConvertor, register_url_convertor

from api.deps import Auditor, EngineDep, Paging, auditor_for
from api.jobs import MEDIA_TYPES
from api.routers import READ, errors
from api.schemas import JobOut, Page
from api.services.chains import known_chain

JOB_ID_REGEX = r"job-[0-9]{8}-[0-9a-f]{12}"


class _JobIdConvertor(StringConvertor):
    """Job ids in paths match only their own shape, so ``/v1/jobs/match`` is never a job."""

    regex = JOB_ID_REGEX


register_url_convertor("jobid", _JobIdConvertor())
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[str, Path(pattern=f"^{JOB_ID_REGEX}$", examples=["job-20261124-0123456789ab"])]


@router.post("/match", response_model=JobOut, status_code=202, responses=errors(*READ, 400),
             summary="Upload demands (CSV/XLSX/JSONL/Parquet) and match them in the background")
def submit_match_job(
    request: Request, engine: EngineDep,
    audit: Annotated[Auditor, Depends(auditor_for("jobs"))],
    file: Annotated[UploadFile, File(description="demands, same columns as ingestion")],
    top_k: Annotated[int, Form(ge=1, le=200)] = 20,
    chain: Annotated[str | None, Form(max_length=100)] = None,
    direction: Annotated[Literal["demand-to-patent", "patent-to-demand"],
                         Form()] = "demand-to-patent",
    format: Annotated[Literal["csv", "xlsx", "parquet"], Form()] = "csv",
) -> JobOut:
    chains = (known_chain(engine, audit.principal, chain),) if chain else ()
    job = request.app.state.jobs.submit_match(
        audit.principal, file.filename or "", file.file, top_k=top_k, chains=chains,
        direction=direction, fmt=format)
    audit("jobs.submit", target=job["job_id"], query=file.filename, status=202)
    return JobOut(**job)


@router.get("", response_model=Page[JobOut], responses=errors(*READ),
            summary="Jobs of this key (operators: all jobs)")
def list_jobs(request: Request, audit: Annotated[Auditor, Depends(auditor_for("jobs"))],
              paging: Annotated[Paging, Depends()]) -> Page[JobOut]:
    total, jobs = request.app.state.jobs.list(audit.principal, limit=paging.limit,
                                              offset=paging.offset)
    return Page[JobOut](total=total, limit=paging.limit, offset=paging.offset,
                        items=[JobOut(**j) for j in jobs])


@router.get("/{job_id:jobid}", response_model=JobOut, responses=errors(*READ),
            summary="Status and progress of a job")
def get_job(job_id: JobId, request: Request,
            audit: Annotated[Auditor, Depends(auditor_for("jobs"))]) -> JobOut:
    return JobOut(**request.app.state.jobs.get(job_id, audit.principal))


@router.delete("/{job_id:jobid}", response_model=JobOut, responses=errors(*READ, 409),
               summary="Cancel a queued or running job (its files are deleted)")
def cancel_job(job_id: JobId, request: Request,
               audit: Annotated[Auditor, Depends(auditor_for("jobs"))]) -> JobOut:
    job = request.app.state.jobs.cancel(job_id, audit.principal)
    audit("jobs.cancel", target=job_id)
    return JobOut(**job)


@router.get("/{job_id:jobid}/result", responses={
    200: {"description": "the result file", "content": {t: {} for t in MEDIA_TYPES.values()}},
    **errors(*READ)}, summary="Download a finished job's result")
def job_result(job_id: JobId, request: Request,
               audit: Annotated[Auditor, Depends(auditor_for("jobs"))]) -> FileResponse:
    path, fmt = request.app.state.jobs.result_path(job_id, audit.principal)
    job = request.app.state.jobs.get(job_id, audit.principal)
    audit("jobs.download", target=job_id, count=job.get("rows"))
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=f"{job_id}.{fmt}")
