"""统计报告: the archived statistics reports with charts (issue 17). Until that service
is installed the page says "尚未启用" instead of showing anything made up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.ui.core import UIRoute, auditor
from api.ui.render import page

router = APIRouter(route_class=UIRoute, include_in_schema=False)


@router.get("/ui/reports")
def reports(request: Request) -> Response:
    auditor(request)
    return page(request, "disabled.html", nav="reports", title="统计报告",
                what="统计报告（归档报告、图表、XLSX 下载）")
