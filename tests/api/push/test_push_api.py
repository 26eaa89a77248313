"""/v1/subscriptions and /v1/feedback over the app: scoping, pushes after a publish that
never wait on delivery, outcome transitions, item tokens, sinking of 不相关 pairs."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from benchmarks.push_servers import WebhookReceiver
from patmatch.settings import Settings
from tests.api.conftest import hdr, make_engine


@pytest.fixture(autouse=True)
def _allow_loopback_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATMATCH_WEBHOOK_ALLOW_PRIVATE", "true")


def _create(client, key, **body):
    body.setdefault("channel", {"type": "file"})
    return client.post("/v1/subscriptions", json=body, headers=hdr(key))


def test_subscriptions_are_scoped_like_demands(client, keys) -> None:
    a = _create(client, keys["centre_a"], demand_id="D-A-PUB", top_n=2)
    assert a.status_code == 201, a.text
    sid = a.json()["id"]
    b = _create(client, keys["centre_b"], text="低温电解液", filters={"chains": ["battery_storage"]})
    assert b.status_code == 201
    for who, code in (("centre_a", 200), ("operator", 200), ("centre_b", 404), ("analyst", 404),
                      ("broker", 404)):
        assert client.get(f"/v1/subscriptions/{sid}", headers=hdr(keys[who])).status_code == code
    r = client.patch(f"/v1/subscriptions/{sid}", json={"top_n": 3}, headers=hdr(keys["centre_b"]))
    assert r.status_code == 404
    assert client.delete(f"/v1/subscriptions/{sid}",
                         headers=hdr(keys["centre_b"])).status_code == 404
    assert [s["id"] for s in client.get("/v1/subscriptions", headers=hdr(keys["centre_a"])
                                        ).json()["items"]] == [sid]
    assert client.get("/v1/subscriptions", headers=hdr(keys["operator"])).json()["total"] == 2
    # pause, resume, remove
    r = client.patch(f"/v1/subscriptions/{sid}", json={"status": "paused"},
                     headers=hdr(keys["centre_a"]))
    assert r.json()["status"] == "paused"
    assert client.delete(f"/v1/subscriptions/{sid}",
                         headers=hdr(keys["centre_a"])).status_code == 204
    assert client.get(f"/v1/subscriptions/{sid}", headers=hdr(keys["centre_a"])).status_code == 404


@pytest.mark.parametrize("body,code,field", [
    ({"demand_id": "D-NOPE"}, 404, None),
    ({"demand_id": "D-B-CONF"}, 404, None),  # another centre's confidential demand
    ({"text": "电机", "filters": {"chains": ["pv"]}}, 404, None),  # outside the centre's chains
    ({"text": "电机", "channel": {"type": "email", "to": ["nobody"]}}, 400, "channel.to"),
    ({"text": "电机", "channel": {"type": "webhook", "url": "gopher://x"}}, 400, "channel.url"),
    ({"text": "电机", "demand_id": "D-A-PUB"}, 400, "demand_id"),
    ({"text": "电机", "top_n": 0}, 422, None),
])
def test_bad_subscriptions_are_refused(client, keys, body, code, field) -> None:
    r = _create(client, keys["centre_a"], **body)
    assert r.status_code == code, r.text
    if field:
        assert r.json()["details"]["field"] == field


def test_private_webhooks_are_refused_unless_allowed(tmp_path, keys) -> None:
    (tmp_path / "h").mkdir()
    settings = Settings(home=tmp_path / "h", webhook_allow_private=False)
    app = create_app(settings, engine=make_engine(settings), reload_interval=0)
    key, _ = app.state.keys.create("c", "centre", centre="cz-nev", chains=("nev",))
    with TestClient(app) as c:
        r = _create(c, key, text="电机散热", channel={"type": "webhook",
                                                    "url": "http://127.0.0.1:8080/hook"})
    assert r.status_code == 400 and "PATMATCH_WEBHOOK_ALLOW_PRIVATE" in r.json()["message"]


def test_publish_pushes_in_the_background_and_never_waits(app, client, keys, engine) -> None:
    with WebhookReceiver(delay=2.0) as hook:  # a slow consumer
        r = _create(client, keys["centre_b"], demand_id="D-B-PUB", top_n=2,
                    channel={"type": "webhook", "url": hook.url})
        sid, secret = r.json()["id"], r.json()["secret"]
        assert secret
        app.state.push_worker.wait_idle(10)  # the first push (bundle build-001) done
        t0 = time.perf_counter()
        r = client.post("/v1/admin/publish", json={"build_id": "build-002"},
                        headers=hdr(keys["operator"]))
        assert r.status_code == 200 and time.perf_counter() - t0 < 1.5
        assert app.state.push_worker.wait_idle(20)
    items = client.get(f"/v1/subscriptions/{sid}/deliveries", headers=hdr(keys["centre_b"])
                       ).json()["items"]
    assert items and {i["status"] for i in items} == {"sent"}
    assert len({i["patent_id"] for i in items}) == len(items)  # no pair twice
    assert {i["bundle"] for i in items} == {"build-001"}  # nothing new in build-002
    assert len(hook.requests) == 1


def test_dead_endpoint_does_not_fail_a_publish(app, client, keys) -> None:
    _create(client, keys["centre_b"], text="电池", channel={"type": "webhook",
                                                          "url": "http://127.0.0.1:9/none"})
    r = client.post("/v1/admin/publish", json={"build_id": "build-002"},
                    headers=hdr(keys["operator"]))
    assert r.status_code == 200 and r.json()["swapped"]
    assert app.state.push_worker.wait_idle(20)


def _fb(client, key, **body):
    return client.post("/v1/feedback", json=body, headers=hdr(key))


def test_feedback_transitions_history_and_scoping(client, keys) -> None:
    k = keys["centre_b"]
    assert _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-1", status="contacted"
               ).json()["state"] == "contacted"
    r = _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-1", status="contacted")
    assert r.status_code == 200 and r.json()["changed"] is False
    r = _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-1", status="viewed")
    assert r.status_code == 409 and "contacted" in r.json()["message"]
    r = _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-1", status="deal",
            deal_type="许可", amount_wan=80.0, date="2026-11-30")
    assert r.status_code == 200 and r.json()["amount_wan"] == 80.0
    r = _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-1", status="negotiating")
    assert r.status_code == 409 and "deal" in r.json()["message"]
    got = client.get("/v1/demands/D-B-PUB/feedback", headers=hdr(k)).json()["items"]
    assert [h["to_state"] for h in got[0]["history"]] == ["contacted", "deal"]
    # unknown demand, patent; another centre; a role that may not write
    assert _fb(client, k, demand_id="D-NOPE", patent_id="P-BAT-1", status="viewed"
               ).status_code == 404
    assert _fb(client, k, demand_id="D-B-PUB", patent_id="P-NOPE", status="viewed"
               ).status_code == 404
    assert _fb(client, keys["centre_a"], demand_id="D-B-CONF", patent_id="P-BAT-1",
               status="viewed").status_code == 404
    assert _fb(client, keys["centre_a"], demand_id="D-B-NEVPUB", patent_id="P-NEV-1",
               status="viewed").status_code == 403
    assert _fb(client, keys["analyst"], demand_id="D-B-PUB", patent_id="P-BAT-1",
               status="viewed").status_code == 403
    assert client.get("/v1/demands/D-B-CONF/feedback",
                      headers=hdr(keys["centre_a"])).status_code == 404
    r = _fb(client, k, demand_id="D-B-PUB", patent_id="P-BAT-2", status="rejected")
    assert r.status_code == 400 and r.json()["details"]["field"] == "reason"


def test_item_token_records_feedback_for_that_item_only(app, client, keys) -> None:
    from api.push.tokens import make_token, token_key

    _create(client, keys["centre_b"], demand_id="D-B-PUB", top_n=1)
    client.post("/v1/admin/reload", headers=hdr(keys["operator"]))
    app.state.push.engine.dispose()
    assert app.state.push_worker.wait_idle(20)
    subs = client.get("/v1/subscriptions", headers=hdr(keys["centre_b"])).json()["items"]
    [d] = client.get(f"/v1/subscriptions/{subs[0]['id']}/deliveries",
                     headers=hdr(keys["centre_b"])).json()["items"]
    token = make_token(token_key(app.state.settings.keys_dir), d["id"])
    page = client.get(f"/v1/feedback/t/{token}")
    assert page.status_code == 200 and d["patent_id"] in page.text and "<form" in page.text
    r = client.post(f"/v1/feedback/t/{token}", json={"status": "viewed"})
    assert r.status_code == 200 and r.json()["patent_id"] == d["patent_id"]
    assert r.json()["demand_id"] == "D-B-PUB"
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(f"/v1/feedback/t/{forged}", json={"status": "viewed"}).status_code == 401
    other = make_token(b"x" * 32, d["id"])
    assert client.post(f"/v1/feedback/t/{other}", json={"status": "viewed"}).status_code == 401


def test_rejected_as_irrelevant_sinks_in_the_demands_list(client, keys) -> None:
    k = keys["centre_b"]
    before = [m["record_id"] for m in client.get("/v1/demands/D-B-PUB/matches",
                                                 headers=hdr(k)).json()["items"]]
    assert len(before) >= 2
    _fb(client, k, demand_id="D-B-PUB", patent_id=before[0], status="rejected", reason="不相关")
    after = client.get("/v1/demands/D-B-PUB/matches", headers=hdr(k)).json()
    ids = [m["record_id"] for m in after["items"]]
    assert ids == before[1:] + before[:1] and [m["rank"] for m in after["items"]] == list(
        range(1, len(ids) + 1))
    page1 = client.get("/v1/demands/D-B-PUB/matches", params={"limit": 1},
                       headers=hdr(k)).json()["items"]
    assert page1[0]["record_id"] == before[1]
    # a rejection for another reason does not sink
    _fb(client, k, demand_id="D-B-PUB", patent_id=before[1], status="rejected",
        reason="价格不合适")
    ids = [m["record_id"] for m in client.get("/v1/demands/D-B-PUB/matches",
                                              headers=hdr(k)).json()["items"]]
    assert ids[0] == before[1]


def test_index_counts_deliveries_as_pushes_and_page_views_apart(app, client, keys) -> None:
    k = keys["centre_b"]
    _create(client, k, demand_id="D-B-PUB", top_n=2)
    assert app.state.push_worker.wait_idle(20)
    before = client.get("/v1/index", headers=hdr(k)).json()["pushes"]
    assert before["delivered_total"] == 2 and before["delivered_last_365_days"] == 2
    for _ in range(5):  # repeated page views are views, never pushes
        client.get("/v1/demands/D-B-PUB/matches", params={"limit": 200}, headers=hdr(k))
    after = client.get("/v1/index", headers=hdr(k)).json()["pushes"]
    assert after["delivered_total"] == 2
    assert after["views_last_365_days"] > before["views_last_365_days"]
