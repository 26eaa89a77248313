"""The push repository: at-most-once pairs, claims, retries/dead letters, feedback states."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.push.feedback import Outcome
from api.push.records import Item
from api.push.store import PushStore
from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
from indexing.store.tables_push import platform_deals
from patmatch.errors import ConflictError, InputError

CENTRE = Owner("k1", "centre", "cz-nev", ("nev",), "centre-a")
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)


def _sub(store: PushStore, **kw):
    spec = check_spec(SubscriptionSpec(channel={"type": "file"}, demand_id="D-1", top_n=3, **kw),
                      allow_private=True)
    return store.create_subscription(spec, CENTRE)


def _items(*ids: str) -> list[Item]:
    return [Item(p, i + 1, 1.0 - i / 10, title=f"专利{p}", reason="命中：电池")
            for i, p in enumerate(ids)]


def test_pair_is_queued_at_most_once(push_store: PushStore) -> None:
    sub = _sub(push_store)
    assert push_store.enqueue(sub, "b1", _items("P1", "P2")) == 2
    assert push_store.enqueue(sub, "b2", _items("P2", "P3")) == 1  # P2 again: skipped
    total, rows = push_store.list_deliveries(sub.id)
    assert total == 3 and {r.patent_id for r in rows} == {"P1", "P2", "P3"}
    assert {r.bundle for r in rows if r.patent_id == "P2"} == {"b1"}
    assert push_store.excluded_patents(sub) == {"P1", "P2", "P3"}


def test_claim_send_retry_dead(push_store: PushStore) -> None:
    sub = _sub(push_store)
    push_store.enqueue(sub, "b1", _items("P1", "P2"), now=T0)
    got = push_store.claim_due("w1", now=T0)
    assert [d.patent_id for d in got] == ["P1", "P2"]
    assert push_store.claim_due("w2", now=T0) == []  # claimed: nobody else takes them
    push_store.mark_sent([got[0].id], now=T0)
    status = push_store.mark_failed([got[1].id], "connection refused", max_attempts=2,
                                    backoff_seconds=60, now=T0)
    assert status == "failed"
    assert push_store.claim_due("w1", now=T0 + dt.timedelta(seconds=30)) == []  # backing off
    again = push_store.claim_due("w1", now=T0 + dt.timedelta(seconds=61))
    assert [d.id for d in again] == [got[1].id]
    assert push_store.mark_failed([got[1].id], "timeout", max_attempts=2, backoff_seconds=60,
                                  now=T0) == "dead"
    d = push_store.get_delivery(got[1].id)
    assert d.status == "dead" and d.attempts == 2 and d.last_error == "timeout"
    assert push_store.get_delivery(got[0].id).status == "sent"
    assert push_store.claim_due("w1", now=T0 + dt.timedelta(days=2)) == []  # dead stays dead
    assert push_store.requeue_dead(sub.id) == 1


def test_stale_claim_is_taken_over(push_store: PushStore) -> None:
    sub = _sub(push_store)
    push_store.enqueue(sub, "b1", _items("P1"), now=T0)
    assert push_store.claim_due("dead-worker", now=T0)
    assert push_store.claim_due("w2", now=T0 + dt.timedelta(minutes=5)) == []
    assert len(push_store.claim_due("w2", now=T0 + dt.timedelta(minutes=11))) == 1


def test_history_tables_are_append_only(push_store: PushStore) -> None:
    sub = _sub(push_store)
    push_store.enqueue(sub, "b1", _items("P1"))
    [d] = push_store.claim_due("w")
    push_store.mark_sent([d.id])
    push_store.record_feedback(subject="D-1", patent_id="P1", outcome=Outcome("viewed"),
                               actor=CENTRE, source="api")
    for table in ("push_attempts", "push_feedback_events"):
        with pytest.raises(DBAPIError), push_store.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
        with pytest.raises(DBAPIError), push_store.engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET ts = 'x'"))


def _fb(store: PushStore, status: str, patent: str = "P1", **kw):
    return store.record_feedback(subject="D-1", demand_id="D-1", patent_id=patent,
                                 outcome=Outcome(status, **kw), actor=CENTRE, source="api")


def test_feedback_moves_forward_and_keeps_history(push_store: PushStore) -> None:
    assert _fb(push_store, "viewed").changed
    assert not _fb(push_store, "viewed").changed  # idempotent repeat
    assert _fb(push_store, "negotiating").changed  # skipping "contacted" is allowed
    with pytest.raises(ConflictError, match="negotiating") as exc:
        _fb(push_store, "contacted")
    assert exc.value.details["current"] == "negotiating"
    r = _fb(push_store, "deal", deal_type="许可", amount_wan=120.5, date="2026-11-30")
    assert r.state["state"] == "deal" and r.state["amount_wan"] == 120.5
    assert not _fb(push_store, "deal", deal_type="许可", amount_wan=120.5,
                   date="2026-11-30").changed
    with pytest.raises(ConflictError, match="终态"):
        _fb(push_store, "rejected", reason="价格不合适")
    r = _fb(push_store, "rejected", reason="价格不合适", reopen=True)
    assert r.state["state"] == "rejected" and r.state["deal_type"] is None
    hist = push_store.feedback_history("D-1", "P1")
    assert [(h["from_state"], h["to_state"]) for h in hist] == [
        (None, "viewed"), ("viewed", "negotiating"), ("negotiating", "deal"),
        ("deal", "rejected")]
    assert hist[-1]["reopen"] and hist[0]["actor"] == "centre-a"
    assert hist[0]["actor_centre"] == "cz-nev"


@pytest.mark.parametrize("outcome,field", [
    (Outcome("done"), "status"),
    (Outcome("rejected"), "reason"),
    (Outcome("rejected", reason="太贵"), "reason"),
    (Outcome("rejected", reason="其他"), "note"),
    (Outcome("deal"), "deal_type"),
    (Outcome("deal", deal_type="赠送"), "deal_type"),
    (Outcome("deal", deal_type="转让", amount_wan=-1), "amount_wan"),
    (Outcome("deal", deal_type="转让", amount_wan="很多"), "amount_wan"),  # type: ignore[arg-type]
    (Outcome("deal", deal_type="转让", date="2026-13-01"), "date"),
    (Outcome("deal", deal_type="转让", date="2099-01-01"), "date"),
    (Outcome("viewed", amount_wan=3), "deal_type"),
    (Outcome("viewed", reason="不相关"), "reason"),
])
def test_bad_outcomes_name_the_field(push_store: PushStore, outcome: Outcome, field: str) -> None:
    with pytest.raises(InputError) as exc:
        push_store.record_feedback(subject="D-1", patent_id="P1", outcome=outcome, actor=None,
                                   source="api")
    assert exc.value.details["field"] == field
    assert push_store.feedback_states("D-1") == []  # nothing written


def test_concurrent_transitions_are_checked_against_the_current_state(
        push_store: PushStore) -> None:
    _fb(push_store, "negotiating")
    results: list[str] = []

    def go(status: str, **kw) -> None:
        try:
            _fb(push_store, status, **kw)
            results.append(status)
        except ConflictError:
            results.append("409")

    threads = [threading.Thread(target=go, args=("deal",), kwargs={"deal_type": "转让"}),
               threading.Thread(target=go, args=("rejected",), kwargs={"reason": "已有方案"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly one final state wins; the other sees a final state and is refused
    assert sorted(results) == sorted([push_store.feedback_states("D-1")[0]["state"], "409"])


def test_rejected_irrelevant_is_excluded_and_deals_are_listed(push_store: PushStore) -> None:
    sub = _sub(push_store)
    _fb(push_store, "rejected", patent="P9", reason="不相关")
    _fb(push_store, "rejected", patent="P8", reason="价格不合适")
    _fb(push_store, "deal", patent="P7", deal_type="转让", amount_wan=300, date="2026-06-01")
    assert push_store.excluded_patents(sub) == {"P9"}
    assert push_store.rejected_irrelevant("D-1") == {"P9"}
    deals = platform_deals(push_store.engine, start=dt.date(2026, 1, 1),
                           end=dt.date(2026, 12, 31))
    assert [(d["patent_id"], d["deal_type"], d["amount_wan"]) for d in deals] == [
        ("P7", "转让", 300.0)]
    assert platform_deals(push_store.engine, start=dt.date(2026, 7, 1)) == []
