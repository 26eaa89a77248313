"""Subscriptions and feedback on behalf of a caller: the functions routers, the CLI and the
web console call. Scoping is exactly that of demands:

- a subscription is visible to (and editable by) an operator, every key of the centre that
  owns it, or — for keys without a centre — the key that created it; anything else is 404
  exactly like an id that does not exist;
- a subscription on a demand needs the demand to be visible to the caller
  (``api.security.can_see_demand``), and its chain filters are clipped to the caller's
  chains (``api.security.scope_chains``: a chain outside them is 404);
- feedback on a demand's pair may be recorded by the demand's centre, an operator or a
  broker who may see it; on a free-text subscription's pair by whoever sees the
  subscription; through an item's token by its holder, for that item only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from patmatch.errors import InputError, NotFoundError, PermissionDeniedError

from api.push.feedback import Outcome
from api.push.records import Delivery, FeedbackResult
from api.push.store import PushStore
from api.push.subscriptions import (Owner, Subscription, SubscriptionSpec, check_channel,
                                    check_filters, check_spec)
from api.push.tokens import read_token, token_key
from api.security import Principal, can_see_demand, can_write_demand, scope_chains
from api.services.contracts import ServingEngine
from api.views import chain_aliases


def owner_of(p: Principal) -> Owner:
    return Owner(key_id=p.key_id, role=p.role, centre=p.centre, chains=tuple(p.chains),
                 name=p.name)


def can_see_subscription(p: Principal, sub: Subscription) -> bool:
    if p.role == "operator":
        return True
    if p.centre is not None and sub.owner_centre is not None:
        return sub.owner_centre == p.centre
    return sub.owner_key_id == p.key_id


def visible_subscription(store: PushStore, p: Principal, sid: str) -> Subscription:
    """The subscription, or 404 for ids that do not exist AND ids this caller may not see."""
    sub = store.get_subscription(sid)
    if sub is None or not can_see_subscription(p, sub):
        raise NotFoundError(f"订阅 '{sid}' 不存在 (subscription not found)", details={"id": sid})
    return sub


def _visible_demand(engine: ServingEngine, p: Principal, demand_id: str) -> Any:
    rec = engine.store.get_demand(demand_id)
    if rec is None or not can_see_demand(p, rec, chain_aliases(engine)):
        raise NotFoundError(f"需求 '{demand_id}' 不存在 (demand not found)",
                            details={"demand_id": demand_id})
    return rec


def _scoped_filters(engine: ServingEngine, p: Principal, filters: dict[str, Any]
                    ) -> dict[str, Any]:
    filters = check_filters(filters)
    if filters.get("chains"):
        aliases = chain_aliases(engine)
        known = {c.id for c in engine.chains()}
        ids = [aliases.get(c, c) for c in filters["chains"]]
        unknown = [c for c in ids if c not in known]
        if unknown:
            raise NotFoundError(f"chain '{unknown[0]}' not found", details={"chain": unknown[0]})
        filters["chains"] = list(scope_chains(p, tuple(ids)))
    return filters


def create_subscription(store: PushStore, engine: ServingEngine, p: Principal,
                        spec: SubscriptionSpec, *, allow_private: bool) -> Subscription:
    """Check and store a subscription owned by the caller (its centre, if it has one).
    The returned object carries the webhook secret: show it once."""
    spec = check_spec(spec, allow_private=allow_private)
    if spec.demand_id is not None:
        _visible_demand(engine, p, spec.demand_id)
    spec = replace(spec, filters=_scoped_filters(engine, p, spec.filters))
    return store.create_subscription(spec, owner_of(p))


def list_subscriptions(store: PushStore, p: Principal) -> list[Subscription]:
    if p.role == "operator":
        return store.list_subscriptions()
    if p.centre is not None:
        return store.list_subscriptions(owner_centre=p.centre)
    return [s for s in store.list_subscriptions(owner_key_id=p.key_id)
            if s.owner_centre is None]


def update_subscription(store: PushStore, engine: ServingEngine, p: Principal, sid: str,
                        changes: dict[str, Any], *, allow_private: bool) -> Subscription:
    """Change name, filters, top_n, min_score, schedule, channel or status (active/paused)."""
    sub = visible_subscription(store, p, sid)
    merged = SubscriptionSpec(
        channel=changes.get("channel", sub.channel), demand_id=sub.demand_id,
        text=changes.get("text", sub.text) if sub.demand_id is None else None,
        filters=changes.get("filters", sub.filters), top_n=changes.get("top_n", sub.top_n),
        min_score=changes.get("min_score", sub.min_score),
        schedule=changes.get("schedule", sub.schedule), name=changes.get("name", sub.name))
    checked = check_spec(merged, allow_private=allow_private) if "channel" in changes else \
        check_spec(replace(merged, channel={"type": "file"}), allow_private=True)
    out: dict[str, Any] = {}
    for k in changes:
        if k == "status":
            if changes[k] not in ("active", "paused"):
                raise InputError("status 须为 active 或 paused (delete to remove)",
                                 details={"field": "status"})
            out[k] = changes[k]
        elif k == "filters":
            out[k] = _scoped_filters(engine, p, checked.filters)
        elif k == "channel":
            out[k] = check_channel(changes[k], allow_private=allow_private)
        elif k == "text" and sub.demand_id is not None:
            raise InputError("订阅的是已登记需求，不能改为文本 (a demand subscription has no text)",
                             details={"field": "text"})
        elif k in ("name", "top_n", "min_score", "schedule", "text"):
            out[k] = getattr(checked, k)
        else:
            raise InputError(f"字段 {k} 不能修改 (field cannot be changed)", details={"field": k})
    return store.update_subscription(sid, out) if out else sub


def set_subscription_status(store: PushStore, p: Principal, sid: str, status: str
                            ) -> Subscription:
    """Pause (``paused``), resume (``active``) or remove (``deleted``: deliveries are kept)."""
    visible_subscription(store, p, sid)
    return store.update_subscription(sid, {"status": status}) if status != "deleted" else \
        _delete(store, sid)


def _delete(store: PushStore, sid: str) -> Subscription:
    sub = store.get_subscription(sid)
    store.update_subscription(sid, {"status": "deleted"})
    return replace(sub, status="deleted")  # type: ignore[arg-type]


def subscription_deliveries(store: PushStore, p: Principal, sid: str, *, limit: int,
                            offset: int) -> tuple[int, list[Delivery]]:
    visible_subscription(store, p, sid)
    return store.list_deliveries(sid, limit=limit, offset=offset)


def _patent_exists(engine: ServingEngine, patent_id: str) -> None:
    if engine.store.get_patent(patent_id) is None:
        raise NotFoundError(f"专利 '{patent_id}' 不存在 (patent not found)",
                            details={"patent_id": patent_id})


def record_feedback(store: PushStore, engine: ServingEngine, p: Principal, *, patent_id: str,
                    outcome: Outcome, demand_id: str | None = None,
                    subscription_id: str | None = None, source: str = "api") -> FeedbackResult:
    """Record an outcome for (demand or subscription, patent); 404 unknown or hidden
    demand/subscription/patent, 403 a visible demand of another centre, 409 a transition
    that is not allowed (the message names the current state)."""
    if (demand_id is None) == (subscription_id is None):
        raise InputError("须给出 demand_id 或 subscription_id 之一 (exactly one)",
                         details={"field": "demand_id"})
    owns_subscription = False
    if subscription_id is not None:
        sub = visible_subscription(store, p, subscription_id)
        demand_id, owner_centre, owns_subscription = sub.demand_id, sub.owner_centre, True
    if demand_id is not None:
        rec = _visible_demand(engine, p, demand_id)
        if not (owns_subscription or can_write_demand(p, rec) or p.role == "broker"):
            raise PermissionDeniedError(
                f"需求 '{demand_id}' 属于其他运营中心；只有该中心、经纪人或运营方可记录反馈",
                details={"demand_id": demand_id})
        owner_centre = rec.owner
        subject = demand_id
    else:
        subject = f"sub:{subscription_id}"
    _patent_exists(engine, patent_id)
    return store.record_feedback(subject=subject, patent_id=patent_id, outcome=outcome,
                                 actor=owner_of(p), source=source, demand_id=demand_id,
                                 subscription_id=subscription_id, owner_centre=owner_centre)


def token_item(store: PushStore, settings: Any, token: str) -> Delivery:
    """The pushed item a token was made for (401 for a forged token, 404 if gone)."""
    did = read_token(token_key(settings.keys_dir), token)
    d = store.get_delivery(did)
    if d is None:
        raise NotFoundError("推送条目不存在 (pushed item not found)", details={"id": did})
    return d


def record_feedback_by_token(store: PushStore, settings: Any, token: str, outcome: Outcome
                             ) -> tuple[Delivery, FeedbackResult]:
    """Record an outcome for exactly the item the token was issued with (no API key)."""
    d = token_item(store, settings, token)
    sub = store.get_subscription(d.subscription_id)
    subject = d.demand_id or f"sub:{d.subscription_id}"
    actor = Owner(key_id=f"token:{d.id}", role="token", centre=d.owner_centre,
                  name=f"推送条目 {d.id} 的接收方")
    res = store.record_feedback(subject=subject, patent_id=d.patent_id, outcome=outcome,
                                actor=actor, source="token", demand_id=d.demand_id,
                                subscription_id=d.subscription_id,
                                owner_centre=sub.owner_centre if sub else d.owner_centre)
    return d, res


def demand_feedback(store: PushStore, engine: ServingEngine, p: Principal, demand_id: str
                    ) -> list[dict[str, Any]]:
    """Every recorded pair of a visible demand: current state and its history, newest first."""
    _visible_demand(engine, p, demand_id)
    history: dict[str, list[dict[str, Any]]] = {}
    for ev in store.feedback_history(demand_id):
        history.setdefault(ev["patent_id"], []).append(ev)
    return [{**s, "history": history.get(s["patent_id"], [])}
            for s in store.feedback_states(demand_id)]


__all__ = ["can_see_subscription", "create_subscription", "demand_feedback", "list_subscriptions",
           "owner_of", "record_feedback", "record_feedback_by_token", "set_subscription_status",
           "subscription_deliveries", "token_item", "update_subscription",
           "visible_subscription"]
