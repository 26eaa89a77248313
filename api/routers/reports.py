"""Transfer reports (专利转化统计分析报告): list the archive, generate one, download a file."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import Auditor, auditor_for
from api.routers import AUTH, errors

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ReportId = Annotated[str, Path(pattern=r"^transfer-[a-z]+-\d{4}(?:-\d{2}|Q[1-4])?(?:-[0-9a-f]{8})?$",
                               examples=["transfer-annual-2025"])]
Format = Literal["html", "xlsx", "md", "json", "png"]
MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
         "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "png": "image/png"}


class ReportOut(BaseModel):
    id: str
    type: str
    type_name: str
    title: str
    period: str
    period_from: str
    period_to: str
    region: str | None
    chain: str | None
    generated: str
    fingerprint: str
    empty: bool
    formats: list[str]


class ReportRequest(BaseModel):
    type: str = Field("annual", max_length=40,
                      description="annual | quarterly | chain | institution | flow（或中文名）")
    period: str | None = Field(None, max_length=20, examples=["2025", "2025Q3", "2025-07"])
    region: str | None = Field(None, max_length=60, examples=["常州市"])
    chain: str | None = Field(None, max_length=60)


class ReportList(BaseModel):
    total: int
    items: list[ReportOut]


def _out(meta) -> ReportOut:  # noqa: ANN001 - an ArchivedReport
    return ReportOut(**(meta.to_dict() | {"formats": list(meta.formats)}))


@router.get("", response_model=ReportList, responses=errors(*AUTH, 400),
            summary="Archived transfer reports, newest period first")
def list_reports(request: Request, audit: Annotated[Auditor, Depends(auditor_for("reports"))],
                 type: Annotated[str | None, Query(max_length=40)] = None) -> ReportList:
    from api.reports.transfer_archive import list_archived_reports
    from api.reports.transfers import resolve_type

    items = list_archived_reports(request.app.state.settings,
                                  resolve_type(type) if type else None)
    audit("reports.list", count=len(items))
    return ReportList(total=len(items), items=[_out(m) for m in items])


@router.post("", response_model=ReportOut, status_code=201, responses=errors(*AUTH, 400),
             summary="Generate (or regenerate: it replaces the archived one) a report")
def generate_report(request: Request, body: ReportRequest,
                    audit: Annotated[Auditor, Depends(auditor_for("reports"))]) -> ReportOut:
    from api.reports.transfer_archive import generate

    _, meta = generate(request.app.state.settings, body.type, body.period, body.region,
                       body.chain)
    audit("reports.generate", target=meta.id, status=201)
    return _out(meta)


@router.get("/{report_id}", response_model=ReportOut, responses=errors(*AUTH, 400, 404),
            summary="One archived report's description")
def get_report(request: Request, report_id: ReportId,
               audit: Annotated[Auditor, Depends(auditor_for("reports"))]) -> ReportOut:
    from api.reports.transfer_archive import get_archived_report

    meta = get_archived_report(request.app.state.settings, report_id)
    audit("reports.read", target=report_id)
    return _out(meta)


@router.get("/{report_id}/download", response_class=FileResponse,
            responses=errors(*AUTH, 400, 404) | {200: {"content": {m: {} for m in MEDIA.values()}}},
            summary="Download an archived report as html, xlsx, md, json or png")
def download_report(request: Request, report_id: ReportId,
                    audit: Annotated[Auditor, Depends(auditor_for("reports"))],
                    format: Format = "html") -> FileResponse:
    from api.reports.transfer_archive import open_archived_report

    path = open_archived_report(request.app.state.settings, report_id, format)
    audit("reports.download", target=report_id, query=format)
    return FileResponse(path, media_type=MEDIA[format], filename=path.name)
