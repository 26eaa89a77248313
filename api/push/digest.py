"""Which matches each due subscription gets: only pairs it never received, ranked by matcher/.

For one subscription: the ranker (``matcher.ranker.HybridRanker`` over the published
bundle, or anything with its ``match_demand``/``match_text`` methods) ranks patents for its
demand (a demand posted after the last build is matched by its text) or its free text,
under its filters clipped to the owner's chains. Patents rejected as 不相关 for its demand
are dropped from that list; of its first ``top_n`` with a fused score of at least
``min_score``, those never delivered to this subscription are the digest. A patent that
is new in the bundle or newly relevant after a relabel (it entered the top ``top_n``) is
therefore pushed; one already pushed never is; an unchanged bundle pushes nothing.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from patmatch.errors import InputError, NotFoundError

from api.push.records import Item, now_utc

from api.push.store import PushStore
from api.push.subscriptions import Subscription, grades_at_least

SCHEDULE_EVERY = {"daily": _dt.timedelta(hours=23, minutes=50),
                  "weekly": _dt.timedelta(days=6, hours=23, minutes=50)}


@dataclass
class DigestResult:
    """One subscription's run: what was selected, how many were new, or why it was skipped."""

    subscription_id: str
    selected: list[Item] = field(default_factory=list)
    queued: int = 0
    skipped: str | None = None


def is_due(sub: Subscription, build_id: str, now: _dt.datetime) -> bool:
    """``publish``: once per published bundle; ``daily``/``weekly``: by elapsed time."""
    if sub.status != "active":
        return False
    if sub.schedule == "publish":
        return sub.last_build != build_id
    if sub.last_run_at is None:
        return True
    last = _dt.datetime.fromisoformat(sub.last_run_at)
    return now - last >= SCHEDULE_EVERY[sub.schedule]


def subscription_filters(sub: Subscription, make_filters: Callable[..., Any]) -> Any:
    f = sub.filters
    chains = tuple(f.get("chains") or ())
    if sub.owner_role == "centre" or (sub.owner_role == "broker" and sub.owner_chains):
        # the owner's scope at creation time: never wider than its key's chains
        chains = tuple(c for c in chains if c in sub.owner_chains) if chains \
            else sub.owner_chains
    return make_filters(chains=chains, regions=tuple(f.get("regions") or ()),
                        ipc_prefix=tuple(f.get("ipc_prefix") or ()),
                        applicant_types=tuple(f.get("applicant_types") or ()),
                        open_license_only=bool(f.get("open_license_only", False)),
                        grades=grades_at_least(f.get("min_grade")))


def select_items(sub: Subscription, ranker: Any, delivered: set[str], rejected: set[str], *,
                 make_filters: Callable[..., Any],
                 demand_text: Callable[[str], str | None]) -> list[Item]:
    """The digest of one subscription (not stored). NotFoundError when its demand is gone."""
    flt = subscription_filters(sub, make_filters)
    depth = int(getattr(getattr(ranker, "config", None), "depth", 0) or 200)
    limit = min(sub.top_n + len(rejected), depth)
    if sub.demand_id is not None:
        try:
            res = ranker.match_demand(sub.demand_id, filters=flt, limit=limit, offset=0)
        except NotFoundError:
            text = demand_text(sub.demand_id)
            if not text:
                raise NotFoundError(f"需求 {sub.demand_id} 不存在或已删除 (demand not found)",
                                    details={"demand_id": sub.demand_id}) from None
            res = ranker.match_text(text, filters=flt, limit=limit, offset=0)
    else:
        res = ranker.match_text(sub.text or "", filters=flt, limit=limit, offset=0)
    out: list[Item] = []
    top = [m for m in res.items if str(m.record_id) not in rejected][:sub.top_n]
    for m in top:
        if m.score < sub.min_score:
            break  # the list is sorted by fused score
        if str(m.record_id) in delivered:
            continue
        out.append(Item(patent_id=str(m.record_id), rank=int(m.rank), score=float(m.score),
                        title=str(getattr(m, "title", "") or ""),
                        reason=str(getattr(m, "reason", "") or ""),
                        matched_terms=tuple(str(t) for t in (m.matched_terms or ())),
                        chains=tuple(str(c) for c in (m.chains or ()))))
    return out


def run_digests(store: PushStore, ranker: Any, build_id: str, *,
                make_filters: Callable[..., Any], demand_text: Callable[[str], str | None],
                subscriptions: Iterable[Subscription] | None = None, dry_run: bool = False,
                due_only: bool = True, now: _dt.datetime | None = None) -> list[DigestResult]:
    """Select and (unless ``dry_run``) queue the digest of every due subscription.

    A failing subscription (its demand deleted, a filter the bundle cannot apply) is
    reported and skipped; the others still run."""
    now = now or now_utc()
    subs = list(subscriptions) if subscriptions is not None else \
        store.list_subscriptions(status="active")
    results: list[DigestResult] = []
    for sub in subs:
        if sub.status != "active" or (due_only and not is_due(sub, build_id, now)):
            continue
        res = DigestResult(sub.id)
        try:
            res.selected = select_items(sub, ranker, store.delivered_patents(sub.id),
                                        store.rejected_irrelevant(sub.subject),
                                        make_filters=make_filters, demand_text=demand_text)
        except (NotFoundError, InputError) as exc:
            res.skipped = exc.message
        if not dry_run:
            if res.selected:
                res.queued = store.enqueue(sub, build_id, res.selected, now=now)
            store.mark_run(sub.id, build_id, now)
        results.append(res)
    return results


__all__ = ["DigestResult", "is_due", "run_digests", "select_items", "subscription_filters"]
