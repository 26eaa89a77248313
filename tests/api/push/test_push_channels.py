"""Digests through the real channels: a local HTTP receiver, an aiosmtpd server on
loopback, the outbox; failures retried, then dead; only never-delivered pairs pushed."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from api.push.channels.webhook import SIGNATURE_HEADER, verify_signature
from api.push.dispatcher import push_now, send_pending
from api.push.store import PushStore
from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
from api.push.tokens import read_token, token_key
from benchmarks.push_servers import SMTPReceiver, WebhookReceiver, free_port
from indexing.index.filters import Filters
from indexing.records import PatentRecord
from indexing.store.database import create_db_engine
from patmatch.errors import InputError
from patmatch.settings import Settings
from tests.api.conftest import DEMANDS, PATENTS
from tests.api.fakes import FakeRanker

OWNER = Owner("k1", "centre", "cz-bat", ("battery_storage", "nev"), "centre-b")
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture()
def conf(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", webhook_allow_private=True, smtp_host="127.0.0.1",
                    smtp_port=free_port(), push_max_attempts=3, push_backoff_seconds=10)


@pytest.fixture()
def store(tmp_path: Path) -> PushStore:
    return PushStore(create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"))


def ranker(extra: list[PatentRecord] = (), build: str = "b1") -> FakeRanker:  # type: ignore[assignment]
    pats = {p.id: p for p, _ in PATENTS} | {p.id: p for p in extra}
    chains = {p.id: c for p, c in PATENTS} | {p.id: ("battery_storage",) for p in extra}
    return FakeRanker(build, pats, chains, {d.id: d for d in DEMANDS})


def sub_for(store: PushStore, channel: dict, **kw):
    spec = SubscriptionSpec(channel=channel, **({"demand_id": "D-B-PUB"} | kw))
    return store.create_subscription(check_spec(spec, allow_private=True), OWNER)


def run(store: PushStore, conf: Settings, r: FakeRanker, now=T0):
    return push_now(store, conf, r, r.build_id, make_filters=Filters, demand_text=lambda _: None,
                    now=now)


def test_webhook_digest_is_signed_and_only_new_pairs_follow(store, conf) -> None:
    with WebhookReceiver() as hook:
        sub = sub_for(store, {"type": "webhook", "url": hook.url}, top_n=2)
        rep = run(store, conf, ranker())
        assert rep.summary()["sent"] == 2 and len(hook.requests) == 1
        req = hook.requests[0]
        assert verify_signature(sub.secret, req["body"], req["headers"][SIGNATURE_HEADER])
        assert not verify_signature("wrong", req["body"], req["headers"][SIGNATURE_HEADER])
        body = json.loads(req["body"])
        assert body["subscription_id"] == sub.id and len(body["items"]) == 2
        item = body["items"][0]
        assert item["idempotency_key"] and item["reason"] and item["chain_names"]
        assert read_token(token_key(conf.keys_dir), item["feedback_token"]) == item["delivery_id"]
        first = {i["patent_id"] for i in body["items"]}

        assert run(store, conf, ranker()).summary()["queued"] == 0  # same bundle: not due
        new = PatentRecord("P-BAT-9", "低温锂离子电池电解液添加剂", "改善锂离子电池低温放电，冬季续航衰减")
        rep = run(store, conf, ranker([new], build="b2"))
        sent = {i["patent_id"] for i in hook.payloads()[-1]["items"]}
        # only the pair that is new in the top 2 follows; the other top pair was sent before
        assert rep.summary()["sent"] == 1 and sent == {"P-BAT-9"} and not sent & first
        _, rows = store.list_deliveries(sub.id)
        assert len(rows) == len({r.patent_id for r in rows}) == 3


def test_failing_webhook_retries_then_dead_while_others_are_sent(store, conf) -> None:
    with WebhookReceiver(status=500) as hook:
        bad = sub_for(store, {"type": "webhook", "url": hook.url}, top_n=1)
        good = sub_for(store, {"type": "file"}, top_n=1)
        rep = run(store, conf, ranker())
        s = rep.summary()
        assert s["sent"] == 1 and s["failed"] == 1 and "HTTP 500" in s["errors"][bad.id]
        for i in range(1, 3):  # attempts 2 and 3, after the back-off
            send_pending(store, conf, now=T0 + dt.timedelta(hours=i))
    [d] = store.list_deliveries(bad.id)[1]
    assert d.status == "dead" and d.attempts == 3 and len(hook.requests) == 3
    assert store.list_deliveries(good.id)[1][0].status == "sent"


def test_unreachable_webhook_and_smtp_down_fail_cleanly(store, conf) -> None:
    hook = sub_for(store, {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/x"})
    mail = sub_for(store, {"type": "email", "to": ["ops@example.com"]})
    rep = run(store, conf, ranker()).summary()
    assert rep["sent"] == 0 and rep["failed"] > 0
    assert "无法送达" in rep["errors"][hook.id] and "SMTP" in rep["errors"][mail.id]
    assert {d.status for s in (hook, mail) for d in store.list_deliveries(s.id)[1]} == {"failed"}


def test_email_digest_through_a_real_smtp_server(store, conf) -> None:
    with SMTPReceiver() as smtp:
        conf = conf.model_copy(update={"smtp_port": smtp.port})
        sub_for(store, {"type": "email", "to": ["centre@example.com"]}, top_n=2, name="低温电池")
        assert run(store, conf, ranker()).summary()["sent"] == 2
    [msg] = smtp.messages
    assert smtp.envelopes[0][1] == ["centre@example.com"]
    assert "专利精准推送" in msg["Subject"] and "低温电池" in msg["Subject"]
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "匹配理由" in plain and "/v1/feedback/t/" in plain and "<table" in html
    assert "13812345678" not in plain + html and "zhangwei" not in plain + html


def test_file_digest_in_the_outbox(store, conf) -> None:
    sub = sub_for(store, {"type": "file"}, top_n=2)
    assert run(store, conf, ranker()).summary()["sent"] == 2
    files = sorted((conf.outbox_dir / sub.id).iterdir())
    assert [f.suffix for f in files] == [".html", ".xlsx"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert "专利精准推送" in files[0].read_text(encoding="utf-8")


def test_rejected_irrelevant_is_never_pushed_and_min_score_caps(store, conf) -> None:
    from api.push.feedback import Outcome

    r = ranker()
    top = r.match_demand("D-B-PUB", filters=Filters(), limit=1).items[0].record_id
    store.record_feedback(subject="D-B-PUB", demand_id="D-B-PUB", patent_id=top,
                          outcome=Outcome("rejected", reason="不相关"), actor=OWNER, source="api")
    sub = sub_for(store, {"type": "file"}, top_n=5, min_score=0.2)
    run(store, conf, r)
    got = [d.patent_id for d in store.list_deliveries(sub.id)[1]]
    assert top not in got
    assert all(d.score >= 0.2 for d in store.list_deliveries(sub.id)[1])


@pytest.mark.parametrize("channel,msg", [
    ({"type": "webhook", "url": "http://127.0.0.1:9/x"}, "回环"),
    ({"type": "webhook", "url": "http://10.1.2.3/x"}, "内网"),
    ({"type": "webhook", "url": "http://169.254.169.254/latest"}, "链路本地"),
    ({"type": "webhook", "url": "http://localhost/x"}, "回环"),
    ({"type": "webhook", "url": "ftp://example.com/x"}, "http"),
    ({"type": "webhook", "url": "not a url"}, "http"),
    ({"type": "webhook", "url": "https://user:pw@example.com/x"}, "用户名"),
    ({"type": "webhook"}, "url"),
    ({"type": "email", "to": ["not-an-address"]}, "邮箱"),
    ({"type": "email", "to": []}, "收件人"),
    ({"type": "pigeon"}, "渠道"),
])
def test_bad_channels_are_refused_at_creation(channel, msg) -> None:
    with pytest.raises(InputError, match=msg):
        check_spec(SubscriptionSpec(channel=channel, text="低温电池"), allow_private=False,
                   resolve=False)


@pytest.mark.parametrize("kw,field", [
    ({}, "demand_id"), ({"text": "x", "demand_id": "D-1"}, "demand_id"),
    ({"text": "x", "top_n": 0}, "top_n"), ({"text": "x", "top_n": 500}, "top_n"),
    ({"text": "x", "schedule": "hourly"}, "schedule"),
    ({"text": "x", "min_score": "high"}, "min_score"),
    ({"text": "x", "filters": {"colour": "red"}}, "filters"),
    ({"text": "x", "filters": {"min_grade": "Z"}}, "filters.min_grade"),
])
def test_bad_specs_name_the_field(kw, field) -> None:
    with pytest.raises(InputError) as exc:
        check_spec(SubscriptionSpec(channel={"type": "file"}, **kw), allow_private=False)
    assert exc.value.details["field"] == field


def test_public_webhook_is_accepted_without_the_private_switch() -> None:
    spec = check_spec(SubscriptionSpec(channel={"type": "webhook", "url": "https://8.8.8.8/h"},
                                       text="x"), allow_private=False, resolve=False)
    assert spec.channel["url"] == "https://8.8.8.8/h"


def test_schedules_publish_daily_weekly(store, conf) -> None:
    from api.push.digest import is_due

    pub = sub_for(store, {"type": "file"}, schedule="publish")
    daily = sub_for(store, {"type": "file"}, schedule="daily")
    weekly = sub_for(store, {"type": "file"}, schedule="weekly")
    run(store, conf, ranker())
    pub, daily, weekly = (store.get_subscription(s.id) for s in (pub, daily, weekly))
    later = T0 + dt.timedelta(days=1)
    assert not is_due(pub, "b1", later) and is_due(pub, "b2", T0)
    assert is_due(daily, "b1", later) and not is_due(daily, "b1", T0 + dt.timedelta(hours=5))
    assert not is_due(weekly, "b1", later) and is_due(weekly, "b1", T0 + dt.timedelta(days=7))
    paused = store.update_subscription(daily.id, {"status": "paused"})
    assert not is_due(paused, "b2", later)
