"""Deals recorded through the platform's feedback -> transfer events of source ``platform``.

The push loop (issue 16) records a deal on a (demand, patent) pair; its documented listing
``indexing.store.tables_push.platform_deals`` is read here and every deal becomes a transfer
event: assignor = the patent's holder (its region from the patent record), assignee = the
demand's enterprise (its region from the demand). The import is idempotent (same deal,
same event id) and runs before every report and on ``patmatch transfers sync``, so the
reports show the platform's own contribution apart from the market.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patmatch.errors import RecordValidationError


@dataclass(frozen=True)
class SyncResult:
    available: bool
    deals: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    message: str = ""


def _address(value: str | None) -> str | None:
    """A region the library can place, else nothing: a deal is never dropped for it."""
    from indexing.intake.regions import resolve_region

    return value if value and resolve_region(value).resolved else None


def deal_rows(deals: list[dict[str, Any]], store: Any) -> list[dict[str, Any]]:
    """Deals as canonical transfer rows (the same fields a transfer file maps to)."""
    rows = []
    for d in deals:
        patent = store.get_patent(d["patent_id"]) if d.get("patent_id") else None
        demand_id = d.get("demand_id") or ""
        demand = (store.get_demand(demand_id)
                  if demand_id and not demand_id.startswith("sub:") else None)
        assignee = ((demand.enterprise or demand.title) if demand is not None else None) \
            or f"平台需求方（{d.get('owner_centre') or demand_id or '未登记'}）"
        rows.append({
            "patent_id": d.get("patent_id"), "event_type": d.get("deal_type"),
            "effective_date": d.get("deal_date") or (d.get("recorded_at") or "")[:10],
            "assignor": (patent.applicant if patent is not None else None) or "未登记专利权人",
            "assignor_address": _address(patent.region if patent is not None else None),
            "assignee": assignee,
            "assignee_address": _address(demand.region if demand is not None else None),
            "amount_wan": d.get("amount_wan"), "source": "platform",
            "source_ref": f"deal:{demand_id}:{d.get('patent_id')}"[:128],
        })
    return rows


def sync_platform_deals(settings: Any) -> SyncResult:
    from sqlalchemy import inspect

    from indexing.intake.transfers import PatentIndex, to_event
    from indexing.store.record_store import open_store
    from indexing.store.tables_push import feedback, platform_deals
    from indexing.store.tables_transfers import open_transfers

    repo = open_transfers(settings)
    if not inspect(repo.engine).has_table(feedback.name):
        return SyncResult(True, message="平台尚无成交反馈记录（推送反馈表未建立）：未导入平台成交。")
    deals = platform_deals(repo.engine)
    events, rejected = [], 0
    with open_store(settings) as store:
        patents = PatentIndex.from_store(store)
        for row in deal_rows(deals, store):
            try:
                events.append(to_event(row, source="platform", patents=patents))
            except RecordValidationError:
                rejected += 1  # e.g. a deal type the transfer register does not know
    c = repo.upsert({e.id: e for e in events}.values())
    return SyncResult(True, len(deals), c.inserted, c.updated, c.unchanged, rejected,
                      f"平台成交 {len(deals)} 笔：新增 {c.inserted}、更新 {c.updated}、未变 "
                      f"{c.unchanged}、无法转换 {rejected}。")


__all__ = ["SyncResult", "deal_rows", "sync_platform_deals"]
