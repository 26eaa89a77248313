"""运维 (operators only): the served bundle, recent builds, publish / rollback with a
confirmation step, and the nightly run's status."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from patmatch.errors import InputError, NoBundleError

from api.schemas import ID_PATTERN
from api.services import admin as admin_service
from api.ui.core import UIRoute, auditor, checked_form
from api.ui.render import page

router = APIRouter(route_class=UIRoute, include_in_schema=False)
RECENT_BUILDS = 10
NIGHTLY_ZH = {"ok": "成功", "unchanged": "无变化", "gate_refused": "未通过质量门槛",
              "locked": "另一任务占用", "failed": "失败", "running": "运行中"}
STATE_ZH = {"current": "当前", "previous": "上一版本", "published": "已发布", "staged": "待发布",
            "broken": "损坏"}
ACTION_ZH = {"publish": "发布", "rollback": "回滚"}


def recent_builds(settings: Any) -> list[dict[str, Any]]:
    from indexing.build.publish import list_bundles

    try:
        return list_bundles(settings)[:RECENT_BUILDS]
    except (OSError, ValueError, KeyError):
        return []


def nightly_status(settings: Any) -> dict[str, Any] | None:
    path = settings.logs_dir / "nightly-status.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@router.get("/ui/ops")
def ops(request: Request, done: Annotated[str, Query(max_length=20)] = "",
        build: Annotated[str, Query(max_length=64)] = "") -> Response:
    audit = auditor(request, "admin")
    engine, settings = request.app.state.engine, request.app.state.settings
    try:
        served = admin_service.served_index(engine)
    except NoBundleError:
        served = None
    builds = recent_builds(settings)
    audit("ui.ops", count=1)
    return page(request, "ops.html", nav="ops", served=served, builds=builds,
                nightly=nightly_status(settings), NIGHTLY_ZH=NIGHTLY_ZH, STATE_ZH=STATE_ZH,
                done=ACTION_ZH.get(done), done_build=build)


@router.get("/ui/ops/confirm")
def confirm(request: Request, action: Annotated[Literal["publish", "rollback"], Query()],
            build: Annotated[str, Query(max_length=64)] = "") -> Response:
    auditor(request, "admin")
    return page(request, "confirm.html", nav="ops", action=action,
                action_zh=ACTION_ZH[action], build=build)


@router.post("/ui/ops/{action}")
async def run_action(request: Request, action: Literal["publish", "rollback"]) -> Response:
    audit = auditor(request, "admin")
    form = await checked_form(request)
    if form.get("confirm") != "yes":
        raise InputError("not confirmed", details={"field": "confirm"})
    engine, metrics = request.app.state.engine, request.app.state.metrics
    if action == "publish":
        build_id = form.get("build") or None
        if build_id is not None and not re.match(ID_PATTERN, build_id):
            raise InputError("bad build id", details={"field": "build_id"})
        force = form.get("force") == "true"
        out = await anyio.to_thread.run_sync(
            lambda: admin_service.publish(engine, metrics, build_id, force=force))
    else:  # loading a bundle takes seconds: off the event loop
        out = await anyio.to_thread.run_sync(lambda: admin_service.rollback(engine, metrics))
    audit(f"admin.{action}", target=out.build_id)
    return RedirectResponse(f"/ui/ops?done={action}&build={out.build_id or ''}", 303)
