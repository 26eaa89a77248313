"""Outcome feedback (已联系 / 洽谈中 / 已成交 / 不合适) through the subscriptions/feedback
service (issue 16). Until that service is installed the console says "尚未启用" and
records nothing: it never fakes a history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.security import Principal

BUTTONS = (("contacted", "已联系"), ("negotiating", "洽谈中"), ("deal", "已成交"),
           ("rejected", "不合适"))
REASONS = ("不相关", "技术成熟度不够", "价格不合适", "权属或法律状态问题", "已有方案", "其他")


@dataclass
class DemandFeedback:
    enabled: bool
    states: dict[str, str] = field(default_factory=dict)  # patent id -> Chinese state
    history: list[dict[str, Any]] = field(default_factory=list)


def available(request: Request) -> bool:
    return False


def for_demand(request: Request, p: Principal, rec: Any) -> DemandFeedback:
    return DemandFeedback(enabled=available(request))
