"""Deals recorded through the platform's feedback -> transfer events of source ``platform``.

The subscriptions/feedback side (issue 16) records deals; this module turns them into
transfer events so the reports can show the platform's own contribution apart from the
market. The import is idempotent: a deal becomes the same event id every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SyncResult:
    available: bool
    deals: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    message: str = ""


def _deal_source() -> Any | None:
    """The feedback module's documented deal listing, when it is installed."""
    return None


def sync_platform_deals(settings: Any) -> SyncResult:
    source = _deal_source()
    if source is None:
        return SyncResult(False, message="平台成交反馈模块尚未提供成交记录接口：未导入任何平台成交。")
    raise NotImplementedError  # replaced when the feedback module lands


__all__ = ["SyncResult", "sync_platform_deals"]
