"""Webhook channel: one signed JSON POST per digest.

Body: ``{"subscription_id", "digest_id", "bundle", "generated_at", "items": [...]}``; each
item has an ``idempotency_key`` (stable across retries: a consumer that saw it already
can ignore the repeat) and a ``feedback_token``. Header ``X-Patmatch-Signature:
sha256=<hex HMAC-SHA256 of the raw body with the subscription's secret>`` lets the
consumer check the body came from us unaltered. Any non-2xx answer, timeout or refused
connection is a failed attempt (retried with back-off by the dispatcher). The target
address is checked again before each send: a name that now resolves into a private
network is refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
from collections.abc import Sequence

from patmatch.errors import InputError

from api.push.channels.digest import DeliveryError, DigestContext, item_payload
from api.push.records import Delivery
from api.push.subscriptions import Subscription, check_webhook_url

SIGNATURE_HEADER = "X-Patmatch-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a consumer does (documented and tested here)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


class WebhookChannel:
    def send(self, sub: Subscription, items: Sequence[Delivery], ctx: DigestContext) -> None:
        import httpx

        s = ctx.settings
        try:
            url = check_webhook_url(sub.channel.get("url"), allow_private=s.webhook_allow_private)
        except InputError as exc:
            raise DeliveryError(exc.message) from None
        payload = {
            "subscription_id": sub.id,
            "digest_id": f"{sub.id}-{min(d.id for d in items)}-{max(d.id for d in items)}",
            "demand_id": sub.demand_id, "bundle": items[0].bundle,
            "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "items": [item_payload(d, ctx) for d in items]}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   SIGNATURE_HEADER: sign(sub.secret or "", body),
                   "X-Patmatch-Digest": payload["digest_id"],
                   "User-Agent": "patmatch-push/1"}
        try:
            r = httpx.post(url, content=body, headers=headers, timeout=s.webhook_timeout,
                           follow_redirects=False)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {url} 无法送达: {type(exc).__name__}: {exc}") from None
        if not 200 <= r.status_code < 300:
            raise DeliveryError(f"webhook {url} 返回 HTTP {r.status_code}: {r.text[:200]}")


__all__ = ["SIGNATURE_HEADER", "WebhookChannel", "sign", "verify_signature"]
