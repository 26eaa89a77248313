"""The push records handed between the store, the digest, the channels and the service:
a selected match (``Item``), a stored delivery (``Delivery``, and how a database row
becomes one), a feedback call's result; plus the UTC clock they are stamped with."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Item:
    """One match selected for a digest (before it is stored as a delivery)."""

    patent_id: str
    rank: int
    score: float
    title: str = ""
    reason: str = ""
    matched_terms: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: str
    owner_centre: str | None
    demand_id: str | None
    patent_id: str
    bundle: str
    channel: str
    rank: int
    score: float
    title: str
    reason: str
    matched_terms: tuple[str, ...]
    chains: tuple[str, ...]
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    updated_at: str
    sent_at: str | None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["matched_terms"], d["chains"] = list(self.matched_terms), list(self.chains)
        return d


@dataclass(frozen=True)
class FeedbackResult:
    """The pair's state after a record call; ``changed`` False for an idempotent repeat."""

    state: dict[str, Any]
    changed: bool


def delivery_from_row(r: Any) -> Delivery:
    return Delivery(
        id=int(r["id"]), subscription_id=r["subscription_id"], owner_centre=r["owner_centre"],
        demand_id=r["demand_id"], patent_id=r["patent_id"], bundle=r["bundle"],
        channel=r["channel"], rank=int(r["rank"]), score=float(r["score"]),
        title=r["title"] or "", reason=r["reason"] or "",
        matched_terms=tuple(json.loads(r["matched_terms"] or "[]")),
        chains=tuple(json.loads(r["chains"] or "[]")), status=r["status"],
        attempts=int(r["attempts"]), next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"], created_at=r["created_at"], updated_at=r["updated_at"],
        sent_at=r["sent_at"])
