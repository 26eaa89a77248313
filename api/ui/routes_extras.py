"""订阅 and 统计报告: pages over the subscriptions/feedback service (issue 16) and the
archived statistics reports (issue 17). Where a service is not installed yet the page
says "尚未启用" instead of showing anything made up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.ui.core import UIRoute, auditor
from api.ui.render import page

router = APIRouter(route_class=UIRoute, include_in_schema=False)


@router.get("/ui/subscriptions")
def subscriptions(request: Request) -> Response:
    auditor(request)
    return page(request, "disabled.html", nav="subs", title="订阅",
                what="订阅（创建、暂停、恢复、推送记录）")


@router.get("/ui/reports")
def reports(request: Request) -> Response:
    auditor(request)
    return page(request, "disabled.html", nav="reports", title="统计报告",
                what="统计报告（归档报告、图表、XLSX 下载）")
