"""What a subscription (订阅) is, and the checks every way of creating one goes through.

A subscription belongs to the key that created it (a centre's subscriptions belong to the
centre: every key of that centre sees them; other keys see only their own). It names a
stored demand or a free-text need, filters (chains, region, IPC prefix, applicant type,
open licence only, minimum grade), a cap ``top_n`` per digest, a minimum fused score, a
schedule and a channel. Webhook URLs must not point into private, loopback or link-local
networks unless ``PATMATCH_WEBHOOK_ALLOW_PRIVATE=true`` (the request would otherwise let
a key holder probe the platform's own network).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from patmatch.errors import InputError

from indexing.privacy import mask_pii

Schedule = Literal["publish", "daily", "weekly"]
SCHEDULES: tuple[str, ...] = ("publish", "daily", "weekly")
CHANNELS: tuple[str, ...] = ("webhook", "email", "file")
SUB_STATUSES: tuple[str, ...] = ("active", "paused", "deleted")
FILTER_KEYS = ("chains", "regions", "ipc_prefix", "applicant_types", "open_license_only",
               "min_grade")
GRADES = ("A", "B", "C")  # A best
MAX_TOP_N = 50
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")


@dataclass(frozen=True)
class Owner:
    """Who a subscription belongs to (from the API key that created it)."""

    key_id: str
    role: str
    centre: str | None = None
    chains: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscription as requested (validated by :func:`check_spec`)."""

    channel: dict[str, Any]
    demand_id: str | None = None
    text: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    top_n: int = 10
    min_score: float = 0.0
    schedule: str = "publish"
    name: str = ""


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    owner_key_id: str
    owner_role: str
    owner_centre: str | None
    owner_chains: tuple[str, ...]
    demand_id: str | None
    text: str | None
    filters: dict[str, Any]
    top_n: int
    min_score: float
    schedule: str
    channel_type: str
    channel: dict[str, Any]
    status: str
    created_at: str
    updated_at: str
    last_run_at: str | None = None
    last_build: str | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def subject(self) -> str:
        """The key feedback is recorded under: the demand, else this subscription."""
        return self.demand_id or f"sub:{self.id}"

    def public(self) -> dict[str, Any]:
        """Everything but the webhook secret (shown once, at creation)."""
        d = {k: v for k, v in self.__dict__.items() if k != "secret"}
        d["owner_chains"] = list(self.owner_chains)
        return d


def check_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise InputError(f"未知的筛选条件 {unknown}；可用: {', '.join(FILTER_KEYS)} (unknown filter "
                         f"keys)", details={"field": "filters", "unknown": unknown})
    out: dict[str, Any] = {}
    for k in ("chains", "regions", "ipc_prefix", "applicant_types"):
        v = filters.get(k)
        if v is None:
            continue
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise InputError(f"筛选条件 {k} 须为字符串列表 (filter {k} must be a list of strings)",
                             details={"field": f"filters.{k}"})
        if v:
            out[k] = [x.strip() for x in v]
    if filters.get("open_license_only") is not None:
        if not isinstance(filters["open_license_only"], bool):
            raise InputError("open_license_only 须为 true/false", details={
                "field": "filters.open_license_only"})
        out["open_license_only"] = filters["open_license_only"]
    g = filters.get("min_grade")
    if g is not None:
        if g not in GRADES:
            raise InputError(f"min_grade 须为 {'/'.join(GRADES)} 之一 (A 最高); got {g!r}",
                             details={"field": "filters.min_grade"})
        out["min_grade"] = g
    return out


def grades_at_least(min_grade: str | None) -> tuple[str, ...]:
    return GRADES[:GRADES.index(min_grade) + 1] if min_grade else ()


def check_webhook_url(url: Any, *, allow_private: bool, resolve: bool = True) -> str:
    """The URL, or InputError saying why it cannot be a webhook target."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("webhook 须给出 url (a webhook channel needs a url)",
                         details={"field": "channel.url"})
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook 地址须为 http(s)://主机/路径 (webhook url must be an absolute "
                         f"http or https URL); got {url!r}", details={"field": "channel.url"})
    if parts.username or parts.password:
        raise InputError("webhook 地址不能包含用户名或密码 (no credentials in the URL)",
                         details={"field": "channel.url"})
    if len(url) > 2000:
        raise InputError("webhook 地址过长 (url over 2000 characters)",
                         details={"field": "channel.url"})
    if not allow_private:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"webhook 端口无效 (invalid port in {url!r})",
                             details={"field": "channel.url"}) from None
        for addr in _addresses(parts.hostname, port, resolve=resolve):
            if not addr.is_global or addr.is_multicast:
                raise InputError(
                    f"webhook 地址 {parts.hostname} 指向内网、回环或链路本地地址 ({addr})，不允许；"
                    "运维可设置 PATMATCH_WEBHOOK_ALLOW_PRIVATE=true 放开 (webhook targets in "
                    "private, loopback or link-local networks are refused)",
                    details={"field": "channel.url", "address": str(addr)})
    return url


def _addresses(host: str, port: int, *, resolve: bool) -> list[Any]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise InputError(f"webhook 主机名 {host} 无法解析 (the host name does not resolve)",
                         details={"field": "channel.url", "host": host}) from None
    return [ipaddress.ip_address(i[4][0].split("%")[0]) for i in infos]


def check_email(addr: Any) -> str:
    if not isinstance(addr, str) or not _EMAIL.match(addr.strip()) or len(addr) > 254:
        raise InputError(f"邮箱地址无效 (invalid e-mail address): {addr!r}",
                         details={"field": "channel.to"})
    return addr.strip()


def check_channel(channel: Any, *, allow_private: bool, resolve: bool = True) -> dict[str, Any]:
    if not isinstance(channel, dict) or channel.get("type") not in CHANNELS:
        got = channel.get("type") if isinstance(channel, dict) else channel
        raise InputError(f"渠道类型须为 {' / '.join(CHANNELS)} 之一 (channel.type); got {got!r}",
                         details={"field": "channel.type"})
    kind = channel["type"]
    if kind == "webhook":
        return {"type": kind, "url": check_webhook_url(channel.get("url"),
                                                       allow_private=allow_private,
                                                       resolve=resolve)}
    if kind == "email":
        to = channel.get("to")
        tos = [to] if isinstance(to, str) else to
        if not isinstance(tos, list) or not tos or len(tos) > 20:
            raise InputError("email 渠道须给出 1-20 个收件人 (channel.to)",
                             details={"field": "channel.to"})
        return {"type": kind, "to": [check_email(a) for a in tos]}
    return {"type": "file"}


def check_spec(spec: SubscriptionSpec, *, allow_private: bool,
               resolve: bool = True) -> SubscriptionSpec:
    """The spec with normalised fields; InputError naming the first wrong field."""
    text = (spec.text or "").strip() or None
    if (spec.demand_id is None) == (text is None):
        raise InputError("订阅须给出 demand_id 或 text 之一 (exactly one of demand_id and text)",
                         details={"field": "demand_id"})
    if text is not None and len(text) > 5000:
        raise InputError("需求文本过长 (text over 5000 characters)", details={"field": "text"})
    if isinstance(spec.top_n, bool) or not isinstance(spec.top_n, int) \
            or not 1 <= spec.top_n <= MAX_TOP_N:
        raise InputError(f"top_n 须在 1 到 {MAX_TOP_N} 之间; got {spec.top_n!r}",
                         details={"field": "top_n"})
    try:
        min_score = float(spec.min_score)
    except (TypeError, ValueError):
        raise InputError(f"min_score 须为数字; got {spec.min_score!r}",
                         details={"field": "min_score"}) from None
    if not 0.0 <= min_score <= 1e6:
        raise InputError(f"min_score 须 >= 0; got {min_score}", details={"field": "min_score"})
    if spec.schedule not in SCHEDULES:
        raise InputError(f"schedule 须为 {' / '.join(SCHEDULES)} 之一; got {spec.schedule!r}",
                         details={"field": "schedule"})
    return SubscriptionSpec(
        channel=check_channel(spec.channel, allow_private=allow_private, resolve=resolve),
        demand_id=spec.demand_id, text=mask_pii(text), filters=check_filters(spec.filters),
        top_n=spec.top_n, min_score=min_score, schedule=spec.schedule,
        name=mask_pii((spec.name or "").strip()[:200]) or "")  # stored and pushed: masked


__all__ = ["CHANNELS", "FILTER_KEYS", "SCHEDULES", "SUB_STATUSES", "Owner", "Subscription",
           "SubscriptionSpec", "check_channel", "check_email", "check_filters", "check_spec",
           "check_webhook_url", "grades_at_least"]
