"""订阅: create, pause, resume, delivery history, through ``api.push.service`` (its
scoping: a centre never sees or edits another centre's subscriptions)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from patmatch.errors import InputError

from api.push import service
from api.push.subscriptions import SubscriptionSpec
from api.ui.core import UIRoute, auditor, checked_form
from api.ui.render import page
from api.ui.routes_match import demand_choices

router = APIRouter(route_class=UIRoute, include_in_schema=False)
SubId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]
STATUS_ZH = {"active": "生效中", "paused": "已暂停", "deleted": "已删除"}
SCHEDULE_ZH = {"publish": "每次发布后", "daily": "每天", "weekly": "每周"}
CHANNEL_ZH = {"file": "文件（XLSX + HTML）", "email": "电子邮件", "webhook": "Webhook"}
DELIVERY_ZH = {"queued": "待发送", "sent": "已发送", "failed": "发送失败", "dead": "已放弃"}
FIELD_ZH = {"demand_id": "请填写需求文本，或选择一条已保存的需求（二选一）",
            "text": "需求文本不能超过 5000 字", "top_n": "每次推送条数须为 1–50 的整数",
            "min_score": "最低分须为 0 及以上的数字", "schedule": "请选择推送频率",
            "channel.type": "请选择推送渠道", "channel.to": "请填写 1–20 个有效的收件邮箱",
            "channel.url": "Webhook 地址无效，或指向内网/本机地址（需运维允许）",
            "name": "名称过长", "filters": "筛选条件无效", "chains": "产业链不在您的范围内"}


def _ctx(request: Request, p: Any, **extra: Any) -> dict[str, Any]:
    engine = request.app.state.engine
    subs = [s for s in service.list_subscriptions(request.app.state.push, p)
            if s.status != "deleted"]
    return dict(nav="subs", subs=subs, choices=demand_choices(engine, p),
                chains=[c for c in engine.chains() if p.sees_chain(c.id)],
                STATUS_ZH=STATUS_ZH, SCHEDULE_ZH=SCHEDULE_ZH, CHANNEL_ZH=CHANNEL_ZH,
                form={}, error=None, **extra)


@router.get("/ui/subscriptions")
def subscriptions(request: Request) -> Response:
    audit = auditor(request, "subscriptions")
    ctx = _ctx(request, audit.principal)
    audit("subscriptions.list", count=len(ctx["subs"]))
    return page(request, "subscriptions.html", **ctx)


def _spec(form: dict[str, str]) -> SubscriptionSpec:
    kind = form.get("channel", "file")
    address = form.get("address", "")
    channel: dict[str, Any] = {"type": kind}
    if kind == "email":
        channel["to"] = [a.strip() for a in address.replace("，", ",").split(",") if a.strip()]
    elif kind == "webhook":
        channel["url"] = address
    try:
        top_n = int(form.get("top_n") or 10)
    except ValueError:
        raise InputError("top_n", details={"field": "top_n"}) from None
    chain = form.get("chain", "")
    return SubscriptionSpec(channel=channel, demand_id=form.get("demand") or None,
                            text=form.get("text") or None,
                            filters={"chains": [chain]} if chain else {}, top_n=top_n,
                            schedule=form.get("schedule", "publish"),
                            name=form.get("name", "")[:100])


@router.post("/ui/subscriptions/new")
async def create(request: Request) -> Response:
    audit = auditor(request, "subscriptions")
    form = await checked_form(request)
    try:
        sub = service.create_subscription(
            request.app.state.push, request.app.state.engine, audit.principal, _spec(form),
            allow_private=request.app.state.settings.webhook_allow_private)
    except InputError as exc:
        field = str((exc.details or {}).get("field", ""))
        return page(request, "subscriptions.html", status=400,
                    **{**_ctx(request, audit.principal), "form": form,
                       "error": FIELD_ZH.get(field, "订阅设置有误，请检查后重试。")})
    audit("subscriptions.create", target=sub.id, count=1, status=201)
    if sub.secret:  # a webhook's signing secret is shown once, here, never in a URL
        return page(request, "subscription.html", status=201, **_detail(request, sub,
                    created=True, secret=sub.secret))
    return RedirectResponse(f"/ui/subscriptions/{sub.id}?created=1", 303)


@router.post("/ui/subscriptions/{sid}/{action}")
async def set_status(request: Request, sid: SubId,
                     action: Literal["pause", "resume"]) -> Response:
    audit = auditor(request, "subscriptions")
    await checked_form(request)
    status = "paused" if action == "pause" else "active"
    service.set_subscription_status(request.app.state.push, audit.principal, sid, status)
    audit(f"subscriptions.{action}", target=sid, count=1)
    return RedirectResponse(f"/ui/subscriptions/{sid}", 303)


@router.get("/ui/subscriptions/{sid}")
def detail(request: Request, sid: SubId, created: int = 0) -> Response:
    audit = auditor(request, "subscriptions")
    sub = service.visible_subscription(request.app.state.push, audit.principal, sid)
    ctx = _detail(request, sub, created=bool(created), secret=None)
    audit("subscriptions.deliveries", target=sid, count=len(ctx["deliveries"]))
    return page(request, "subscription.html", **ctx)


def _detail(request: Request, sub: Any, *, created: bool, secret: str | None) -> dict:
    total, deliveries = service.subscription_deliveries(
        request.app.state.push, request.state.principal, sub.id, limit=100, offset=0)
    return dict(nav="subs", sub=sub, deliveries=deliveries, total=total, created=created,
                secret=secret, STATUS_ZH=STATUS_ZH, SCHEDULE_ZH=SCHEDULE_ZH,
                CHANNEL_ZH=CHANNEL_ZH, DELIVERY_ZH=DELIVERY_ZH)
