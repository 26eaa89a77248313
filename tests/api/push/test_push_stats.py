"""Pushes counted from delivered items only, the funnel, deals and the seed targets, with
known answers; and their place in `patmatch report`."""

from __future__ import annotations

import datetime as dt

from api.push import stats
from api.push.feedback import Outcome
from api.push.records import Item
from api.push.store import PushStore
from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
from indexing.store.stats import Period

T = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)
YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
A = Owner("ka", "centre", "centre-a", ("pv",), "A")
B = Owner("kb", "centre", "centre-b", ("nev",), "B")


def _sub(store: PushStore, owner: Owner, demand: str):
    return store.create_subscription(check_spec(SubscriptionSpec(
        channel={"type": "file"}, demand_id=demand), allow_private=True), owner)


def _deliver(store: PushStore, sub, pids: list[str], chain: str, *, ok: bool = True,
             when=T) -> None:
    store.enqueue(sub, "b1", [Item(p, i + 1, 1.0, chains=(chain,)) for i, p in enumerate(pids)],
                  now=when)
    got = store.claim_due("w", now=when)
    if ok:
        store.mark_sent([d.id for d in got], now=when)
    else:
        store.mark_failed([d.id for d in got], "down", max_attempts=1, backoff_seconds=1,
                          now=when)


def _fb(store: PushStore, demand: str, pid: str, status: str, owner: Owner, **kw) -> None:
    store.record_feedback(subject=demand, demand_id=demand, patent_id=pid, actor=owner,
                          outcome=Outcome(status, **kw), source="api",
                          owner_centre=owner.centre, now=T)


def _world(store: PushStore) -> None:
    sa, sb = _sub(store, A, "D-A"), _sub(store, B, "D-B")
    _deliver(store, sa, ["P1", "P2", "P3"], "pv")
    _deliver(store, sb, ["P4"], "nev")
    _deliver(store, sb, ["P5"], "nev", ok=False)  # dead: never a push
    _deliver(store, sa, ["P9"], "pv", when=T.replace(year=2025))  # another period
    _fb(store, "D-A", "P1", "viewed", A)
    _fb(store, "D-A", "P1", "negotiating", A)
    _fb(store, "D-A", "P1", "deal", A, deal_type="许可", amount_wan=600.0, date="2026-03-01")
    _fb(store, "D-A", "P2", "contacted", A)
    _fb(store, "D-A", "P2", "rejected", A, reason="价格不合适")
    _fb(store, "D-B", "P4", "deal", B, deal_type="转让", amount_wan=500.0, date="2026-03-02")


def test_pushes_count_delivered_items_only(push_store: PushStore) -> None:
    _world(push_store)
    d = stats.delivered_counts(push_store.engine, YEAR)
    assert d["pushes"] == 4 and d["annualised"] == 4
    assert d["by_centre"] == {"centre-a": 3, "centre-b": 1}
    assert d["by_chain"] == {"pv": 3, "nev": 1} and d["by_month"] == {"2026-03": 4}
    assert d["not_delivered"] == {"dead": 1}
    half = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert stats.delivered_counts(push_store.engine, half)["annualised"] == round(4 * 365 / 181)


def test_funnel_per_chain_and_centre(push_store: PushStore) -> None:
    _world(push_store)
    f = stats.funnel(push_store.engine, YEAR)
    # a stage counts every pair that got at least that far (a deal was also a contact)
    assert f["overall"] == {"pushed": 4, "viewed": 3, "contacted": 3, "negotiating": 2,
                            "deal": 2, "rejected": 1}
    assert f["by_chain"]["pv"] == {"pushed": 3, "viewed": 2, "contacted": 2, "negotiating": 1,
                                   "deal": 1, "rejected": 1}
    assert f["by_centre"]["centre-b"]["deal"] == 1 and f["by_centre"]["centre-b"]["pushed"] == 1


def test_deals_and_seed_targets(push_store: PushStore) -> None:
    _world(push_store)
    kinds = {"P1": "university", "P4": "enterprise"}
    takers = {"D-A": "常州甲公司", "D-B": "常州乙公司"}
    d = stats.deals(push_store.engine, YEAR, patent_type=kinds.get,
                    taker=lambda did, _sid: takers.get(did))
    assert d["count"] == 2 and d["amount_wan"] == 1100.0
    assert d["by_type"] == {"许可": 1, "转让": 1}
    assert d["academic_transfers"] == 1 and d["academic_amount_wan"] == 600.0
    assert d["sme_takers"] == 1 and d["sme_takers_previous"] == 0 and d["sme_growth"] is None
    t1, t2 = stats.seed_targets(d)
    assert not t1["met"] and t2["met"]  # 1 件 / 600 万元; growth from none
    kinds["P4"] = "institute"
    d = stats.deals(push_store.engine, YEAR, patent_type=kinds.get,
                    taker=lambda did, _sid: takers.get(did))
    assert d["academic_amount_wan"] == 1100.0 and stats.seed_targets(d)[0]["met"]


def test_report_counts_delivered_pushes_and_shows_the_funnel(settings) -> None:
    from api.push.store import open_push_store
    from api.reports.supply_demand import build_report, render_markdown

    store = open_push_store(settings)
    _world(store)
    r = build_report(settings, YEAR, today=dt.date(2026, 12, 31))
    t = {x["target"]: x for x in r["targets"]}
    assert t["pushes_per_year"]["actual"] == 4
    assert "academic_transfers" in t and "sme_taker_growth" in t
    md = render_markdown(r)
    assert "## 对接漏斗" in md and "| 合计 | 4 | 3 | 3 | 2 | 2 | 1 |" in md
    assert "| centre-a | 3 |" in md and "成交金额 (万元) | 1100.0" in md


def test_feedback_eval_grades_outcomes(push_store: PushStore, tmp_path) -> None:
    from benchmarks.feedback_eval import evaluate_feedback, judgements, render, write_judged

    _world(push_store)
    _fb(push_store, "D-A", "P3", "rejected", A, reason="不相关")
    q = judgements(push_store.engine)
    # P1 deal 3; P2 contacted then rejected for price keeps 1; P3 irrelevant 0; P4 deal 3
    assert q == {"D-A": {"P1": 3, "P2": 1, "P3": 0}, "D-B": {"P4": 3}}
    r = evaluate_feedback(push_store.engine)
    assert r["pushed_judged"] == 4 and r["precision_of_pushes"] == 0.75
    assert r["precision_by_month"] == {"2026-03": 0.75}
    assert 0 < r["ndcg@10_by_month"]["2026-03"] <= 1
    assert "| 2026-03 | 0.75 |" in render(r)
    path = write_judged(q, tmp_path / "qrels.tsv")
    assert "D-A\tP1\t3" in path.read_text(encoding="utf-8")
