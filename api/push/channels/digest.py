"""What every delivery channel shares: the digest context, one item's payload, the subject
line, and ``DeliveryError`` (sending failed; the dispatcher records it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from indexing.privacy import mask_pii

from api.push.records import Delivery
from api.push.subscriptions import Subscription


class DeliveryError(Exception):
    """Sending failed; the message is stored on the delivery and shown to operators."""


@dataclass(frozen=True)
class DigestContext:
    settings: Any
    token_for: Callable[[int], str]
    chain_names: dict[str, str]

    def feedback_url(self, token: str) -> str:
        return f"{str(self.settings.public_url).rstrip('/')}/v1/feedback/t/{token}"


class Channel(Protocol):
    def send(self, sub: Subscription, items: Sequence[Delivery], ctx: DigestContext) -> None: ...


def item_payload(d: Delivery, ctx: DigestContext) -> dict[str, Any]:
    """One pushed item as every channel shows it (JSON-able, masked)."""
    token = ctx.token_for(d.id)
    return {"delivery_id": d.id, "idempotency_key": f"pm-{d.subscription_id}-{d.id}",
            "patent_id": d.patent_id, "title": mask_pii(d.title) or "",
            "rank": d.rank, "score": round(d.score, 6),
            "reason": mask_pii(d.reason) or "", "matched_terms": list(d.matched_terms),
            "chains": list(d.chains),
            "chain_names": [ctx.chain_names.get(c, c) for c in d.chains],
            "demand_id": d.demand_id, "bundle": d.bundle,
            "feedback_token": token, "feedback_url": ctx.feedback_url(token)}


def subject_line(sub: Subscription, n: int) -> str:
    what = sub.name or (f"需求 {sub.demand_id}" if sub.demand_id else mask_pii(sub.text or "")[:20])
    return f"专利精准推送：{what}（{n} 条新匹配）"
