"""Outcome feedback (已联系 / 洽谈中 / 已成交 / 不合适) through the subscriptions/feedback
service (``api.push.service``, issue 16): its scoping, transitions and history, never a
copy. Where that service is not installed the console says "尚未启用" and records
nothing: it never fakes a history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from patmatch.errors import ConflictError, InputError

from api.security import Principal

BUTTONS = (("contacted", "已联系"), ("negotiating", "洽谈中"), ("deal", "已成交"),
           ("rejected", "不合适"))
REASONS = ("不相关", "技术成熟度不够", "价格不合适", "权属或法律状态问题", "已有方案", "其他")
DEAL_TYPES = ("转让", "许可", "开放许可", "作价入股")
STATE_ZH = {"pushed": "已推送", "viewed": "已查看", "contacted": "已联系",
            "negotiating": "洽谈中", "deal": "已成交", "rejected": "不合适"}
FIELD_MESSAGES = {
    "status": "请选择一个结果",
    "reason": "选择“不合适”时请先选择原因",
    "note": "原因为“其他”时请填写说明",
    "deal_type": "“已成交”须先选择成交方式（转让 / 许可 / 开放许可 / 作价入股）",
    "amount_wan": "金额须为 0 及以上的数字（万元）",
    "date": "成交日期须写成 2026-12-31，且不能在未来",
    "demand_id": "请指定需求",
    "patent_id": "专利不存在",
}


@dataclass
class DemandFeedback:
    enabled: bool
    states: dict[str, str] = field(default_factory=dict)  # patent id -> Chinese state
    history: list[dict[str, Any]] = field(default_factory=list)  # newest first


def _service() -> Any:
    try:
        from api.push import service
    except ImportError:
        return None
    return service


def available(request: Request) -> bool:
    return _service() is not None and getattr(request.app.state, "push", None) is not None


def for_demand(request: Request, p: Principal, rec: Any) -> DemandFeedback:
    if not available(request) or not p.allowed("feedback:read"):
        return DemandFeedback(enabled=False)
    service = _service()
    items = service.demand_feedback(request.app.state.push, request.app.state.engine, p, rec.id)
    states, history = {}, []
    for item in items:
        states[item["patent_id"]] = STATE_ZH.get(item.get("state"), item.get("state"))
        for ev in item.get("history", ()):
            history.append({
                "at": str(ev.get("ts") or "")[:19].replace("T", " "),
                "patent_id": item["patent_id"],
                "state": STATE_ZH.get(ev.get("to_state"), ev.get("to_state")),
                "reason": " ".join(str(x) for x in (ev.get("reason"), ev.get("deal_type"),
                                                    _amount(ev.get("amount_wan")), ev.get("note"))
                                   if x),
                "by": ev.get("actor")})
    history.sort(key=lambda h: h["at"], reverse=True)
    enabled = p.allowed("feedback:write")
    return DemandFeedback(enabled=enabled, states=states, history=history)


def _amount(v: Any) -> str | None:
    return None if v is None else f"{float(v):g} 万元"


def record(request: Request, p: Principal, demand_id: str, form: dict[str, str]) -> str:
    """Record one outcome from the demand page's form; the Chinese state recorded."""
    service = _service()
    from api.push.feedback import Outcome

    status = form.get("status", "")
    amount: float | None = None
    if status == "deal" and form.get("amount"):
        try:
            amount = float(form["amount"])
        except ValueError:
            raise InputError("amount", details={"field": "amount_wan"}) from None
    outcome = Outcome(
        status=status,
        reason=(form.get("reason") or None) if status == "rejected" else None,
        note=form.get("note") or None,
        deal_type=(form.get("deal_type") or None) if status == "deal" else None,
        amount_wan=amount, date=(form.get("date") or None) if status == "deal" else None)
    service.record_feedback(request.app.state.push, request.app.state.engine, p,
                            patent_id=form.get("patent_id", ""), outcome=outcome,
                            demand_id=demand_id, source="console")
    return STATE_ZH.get(status, status)


def error_zh(exc: Exception) -> str:
    """The service's refusals, told in Chinese only."""
    d = getattr(exc, "details", None) or {}
    if isinstance(exc, ConflictError) and "current" in d:
        cur = STATE_ZH.get(d["current"], d["current"])
        if d["current"] in ("deal", "rejected"):
            return f"该条目当前为“{cur}”，已是最终结果，不能再更改。"
        return f"该条目当前为“{cur}”，状态只能向前推进。"
    return FIELD_MESSAGES.get(str(d.get("field")), "反馈未能记录，请检查后重试。")
