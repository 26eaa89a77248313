"""Pushes and outcomes for a reporting period: the 精准推送 and 对接成效 sections of
``patmatch report`` and the counts of ``/v1/index``.

- A *push* is one delivered item: a ``push_deliveries`` row with status ``sent`` whose
  ``sent_at`` lies in the period (queued, failed or dead items never count; API page views
  are counted apart, as views, by ``api.usage``).
- The *funnel* follows each (demand or subscription, patent) pair pushed in the period, or
  given feedback in it, to the furthest state its history reached by the period's end:
  pushed -> viewed -> contacted -> negotiating -> deal (a later rejection keeps the depth
  reached before it). Per chain (the patent's chains as pushed) and per centre.
- *Deals*: pairs whose current state is ``deal`` with a deal date in the period.
- The seed targets: 企业接受高校院所转让、许可专利 ≥ 100 件或金额 > 1000 万元 (deals of type
  转让/许可/开放许可 on patents of universities and institutes); 受让中小企业数量年度增幅 ≥ 20%
  (distinct enterprises that took a university/institute/SOE patent, this period against
  the period of the same length before it).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from indexing.store import tables_push as T
from indexing.store.stats import Period

from api.push.feedback import FORWARD, furthest

UNCHAINED = "(未归类)"
NO_CENTRE = "(平台)"
STAGES = ("pushed", *FORWARD)
SEED_TYPES = ("转让", "许可", "开放许可")
ACADEMIC = ("university", "institute")
SOURCE_TYPES = ("university", "institute", "soe")
SEED_COUNT, SEED_AMOUNT_WAN, SME_GROWTH = 100, 1000.0, 0.20


def _bounds(period: Period) -> tuple[str, str]:
    return period.start.isoformat(), (period.end + _dt.timedelta(days=1)).isoformat()


def delivered_counts(engine: Engine, period: Period) -> dict[str, Any]:
    """Delivered items in the period: total, per centre, chain, month, channel; annualised."""
    lo, hi = _bounds(period)
    d = T.deliveries
    with engine.connect() as conn:
        rows = conn.execute(select(d.c.owner_centre, d.c.chains, d.c.sent_at, d.c.channel,
                                   d.c.subscription_id, d.c.demand_id)
                            .where(d.c.status == "sent", d.c.sent_at >= lo, d.c.sent_at < hi)
                            ).all()
        failing = conn.execute(select(d.c.status, func.count()).where(
            d.c.status.in_(("queued", "sending", "failed", "dead"))).group_by(d.c.status)).all()
    by_centre: Counter = Counter()
    by_chain: Counter = Counter()
    by_month: Counter = Counter()
    by_channel: Counter = Counter()
    for centre, chains, sent_at, channel, _sid, _did in rows:
        by_centre[centre or NO_CENTRE] += 1
        for c in json.loads(chains or "[]") or [UNCHAINED]:
            by_chain[c] += 1
        by_month[sent_at[:7]] += 1
        by_channel[channel] += 1
    n = len(rows)
    return {"pushes": n, "annualised": round(n * 365 / period.days) if period.days else 0,
            "by_centre": dict(by_centre.most_common()), "by_chain": dict(by_chain.most_common()),
            "by_month": dict(sorted(by_month.items())), "by_channel": dict(by_channel),
            "subscriptions_reached": len({r[4] for r in rows}),
            "demands_reached": len({r[5] for r in rows if r[5]}),
            "not_delivered": {s: int(c) for s, c in failing}}


def funnel(engine: Engine, period: Period, *,
           patent_chains: Callable[[str], tuple[str, ...]] = lambda _: ()) -> dict[str, Any]:
    """The funnel per chain and per centre, and overall."""
    lo, hi = _bounds(period)
    d, ev = T.deliveries, T.feedback_events
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for sid, did, pid, centre, chains in conn.execute(
                select(d.c.subscription_id, d.c.demand_id, d.c.patent_id, d.c.owner_centre,
                       d.c.chains).where(d.c.status == "sent", d.c.sent_at >= lo,
                                         d.c.sent_at < hi)):
            p = pairs.setdefault((did or f"sub:{sid}", pid),
                                 {"centre": centre, "chains": set(), "pushed": True})
            p["chains"] |= set(json.loads(chains or "[]"))
        touched = conn.execute(select(ev.c.subject, ev.c.patent_id, ev.c.actor_centre)
                               .where(ev.c.ts >= lo, ev.c.ts < hi).distinct()).all()
        for subject, pid, centre in touched:
            pairs.setdefault((subject, pid), {"centre": centre, "chains": set(),
                                              "pushed": False})
        history: dict[tuple[str, str], list[str]] = defaultdict(list)
        owner: dict[tuple[str, str], str | None] = {}
        if pairs:
            f = T.feedback
            for subject, pid, state in conn.execute(
                    select(ev.c.subject, ev.c.patent_id, ev.c.to_state)
                    .where(ev.c.ts < hi).order_by(ev.c.id)):
                if (subject, pid) in pairs:
                    history[(subject, pid)].append(state)
            for subject, pid, centre in conn.execute(select(f.c.subject, f.c.patent_id,
                                                            f.c.owner_centre)):
                owner[(subject, pid)] = centre
    zero = {s: 0 for s in (*STAGES, "rejected")}
    overall = dict(zero)
    per_chain: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    per_centre: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    for key, info in pairs.items():
        states = history.get(key, [])
        depth = furthest(states)
        chains = info["chains"] or set(patent_chains(key[1])) or {UNCHAINED}
        centre = info["centre"] or owner.get(key) or NO_CENTRE
        for bucket in (overall, *(per_chain[c] for c in chains), per_centre[centre]):
            if info["pushed"]:
                bucket["pushed"] += 1
            for i, stage in enumerate(FORWARD, start=1):
                bucket[stage] += depth >= i
            bucket["rejected"] += bool(states) and states[-1] == "rejected"
    return {"overall": overall, "by_chain": dict(sorted(per_chain.items())),
            "by_centre": dict(sorted(per_centre.items()))}


def deals(engine: Engine, period: Period, *, patent_type: Callable[[str], str | None],
          taker: Callable[[str | None, str | None], str | None]) -> dict[str, Any]:
    """Deals with a deal date in the period, and the two seed targets' actual values."""
    rows = T.platform_deals(engine, start=period.start, end=period.end)
    days = period.days
    prev = Period(period.start - _dt.timedelta(days=days), period.start - _dt.timedelta(days=1))
    prev_rows = T.platform_deals(engine, start=prev.start, end=prev.end)

    def takers(rs: list[dict[str, Any]]) -> set[str]:
        return {t for r in rs if patent_type(r["patent_id"]) in SOURCE_TYPES
                and (t := taker(r["demand_id"], r["subscription_id"]))}

    by_type: Counter = Counter(r["deal_type"] for r in rows)
    amount_by_type: Counter = Counter()
    for r in rows:
        amount_by_type[r["deal_type"]] += r["amount_wan"] or 0.0
    seed = [r for r in rows if r["deal_type"] in SEED_TYPES
            and patent_type(r["patent_id"]) in ACADEMIC]
    cur, before = takers(rows), takers(prev_rows)
    growth = (len(cur) - len(before)) / len(before) if before else None
    return {
        "count": len(rows), "amount_wan": round(sum(r["amount_wan"] or 0.0 for r in rows), 2),
        "by_type": dict(by_type), "amount_by_type": {k: round(v, 2)
                                                     for k, v in amount_by_type.items()},
        "academic_transfers": len(seed),
        "academic_amount_wan": round(sum(r["amount_wan"] or 0.0 for r in seed), 2),
        "sme_takers": len(cur), "sme_takers_previous": len(before),
        "previous_period": prev.to_dict(),
        "sme_growth": None if growth is None else round(growth, 4),
    }


def seed_targets(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed's two outcome targets as report target rows."""
    t1 = d["academic_transfers"] >= SEED_COUNT or d["academic_amount_wan"] > SEED_AMOUNT_WAN
    g = d["sme_growth"]
    t2 = (g is not None and g >= SME_GROWTH) or (g is None and d["sme_takers"] > 0)
    return [
        {"target": "academic_transfers", "goal": f">= {SEED_COUNT} 件 or > {SEED_AMOUNT_WAN:.0f} 万元",
         "actual": f"{d['academic_transfers']} 件 / {d['academic_amount_wan']} 万元", "met": t1,
         "evidence": "企业接受高校院所转让、许可（含开放许可）专利：平台反馈记录的成交"},
        {"target": "sme_taker_growth", "goal": f">= {SME_GROWTH:.0%}",
         "actual": "n/a" if g is None else f"{g:.0%}", "met": t2,
         "evidence": f"受让高校院所/国企专利的企业 {d['sme_takers']} 家，上一同长期间 "
                     f"{d['sme_takers_previous']} 家"},
    ]


def push_summary(engine: Engine, *, days: int = 365) -> dict[str, Any]:
    """For /v1/index: delivered pushes in the last ``days`` and in all time."""
    today = _dt.datetime.now(_dt.timezone.utc).date()
    d = T.deliveries
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).where(d.c.status == "sent")).scalar_one()
        recent = conn.execute(select(func.count()).where(and_(
            d.c.status == "sent", d.c.sent_at >= (today - _dt.timedelta(days=days - 1))
            .isoformat()))).scalar_one()
    return {"delivered_total": int(total), f"delivered_last_{days}_days": int(recent)}


__all__ = ["deals", "delivered_counts", "funnel", "push_summary", "seed_targets"]
