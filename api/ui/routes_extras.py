"""统计报告: the archived transfer-statistics reports (issue 17): list, open one with its
charts, download XLSX — through ``api.reports.transfer_archive``, for the roles the API
allows (``reports``: operators and analysts)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response

from api.routers.reports import MEDIA
from api.ui.core import UIRoute, auditor
from api.ui.render import page

router = APIRouter(route_class=UIRoute, include_in_schema=False)
ReportId = Annotated[str, Path(pattern=r"^transfer-[a-z]+-\d{4}(?:-\d{2}|Q[1-4])?(?:-[0-9a-f]{8})?$")]
# an archived report runs its own chart script: give it an opaque origin (sandbox without
# allow-same-origin), so it can neither read the console's cookie nor call the console
REPORT_CSP = ("sandbox allow-scripts allow-popups; default-src 'none'; "
              "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
              "font-src data:")


@router.get("/ui/reports")
def reports(request: Request) -> Response:
    from api.reports.transfer_archive import list_archived_reports

    audit = auditor(request, "reports")
    items = list_archived_reports(request.app.state.settings)
    audit("reports.list", count=len(items))
    return page(request, "reports.html", nav="reports", items=items)


@router.get("/ui/reports/{report_id}/{fmt}")
def open_report(request: Request, report_id: ReportId,
                fmt: Literal["html", "xlsx"]) -> Response:
    from api.reports.transfer_archive import open_archived_report

    audit = auditor(request, "reports")
    path = open_archived_report(request.app.state.settings, report_id, fmt)
    audit("reports.download", target=report_id, query=fmt)
    if fmt == "html":
        return FileResponse(path, media_type=MEDIA["html"], headers={
            "Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})
    return FileResponse(path, media_type=MEDIA["xlsx"], filename=path.name)
