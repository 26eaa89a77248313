"""Index info, publish/rollback/reload, keys over HTTP, the audit log, metrics."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.api.conftest import hdr, stored_bytes


@pytest.fixture()
def settings(db_settings):
    """Every test here runs on SQLite and on PostgreSQL: keys and audit live in the database."""
    return db_settings


def test_index_publish_rollback_reload(client, keys, engine):
    h = hdr(keys["operator"])
    info = client.get("/v1/index", headers=hdr(keys["centre_a"])).json()
    assert info["build_id"] == "build-001" and info["fingerprints"]["encoder"] == "fake-enc"
    r = client.post("/v1/admin/publish", json={"build_id": "build-002"}, headers=h).json()
    assert r == {"action": "publish", "build_id": "build-002", "serving": "build-002",
                 "swapped": True, "reload_error": None}
    assert client.get("/v1/index", headers=h).json()["build_id"] == "build-002"
    assert client.post("/v1/match", json={"text": "电池"}, headers=h).json()["build_id"] == \
        "build-002"
    r = client.post("/v1/admin/rollback", headers=h).json()
    assert r["serving"] == "build-001" and r["swapped"]
    # nothing moved: reload is a no-op
    assert client.post("/v1/admin/reload", headers=h).json()["swapped"] is False
    # the pointer moved behind the service's back (CLI publish): reload picks it up
    engine.publish_build("build-007")
    assert client.post("/v1/admin/reload", headers=h).json()["serving"] == "build-007"


def test_quality_gate_refusal_is_409_and_keeps_serving(client, keys, engine):
    h = hdr(keys["operator"])
    engine.gate_refuses.add("build-bad")
    r = client.post("/v1/admin/publish", json={"build_id": "build-bad"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "bundle.quality_gate"
    assert client.get("/v1/index", headers=h).json()["build_id"] == "build-001"
    r = client.post("/v1/admin/publish", json={"build_id": "build-bad", "force": True}, headers=h)
    assert r.json()["serving"] == "build-bad"


def test_failed_load_keeps_the_old_bundle(client, keys, engine):
    h = hdr(keys["operator"])
    engine.publish_build("build-broken")
    original = engine.load_snapshot

    def broken(path):
        from patmatch.errors import BundleIntegrityError
        raise BundleIntegrityError(f"checksum mismatch in {path.name}/vectors.npy")

    engine.load_snapshot = broken
    r = client.post("/v1/admin/reload", headers=h)
    assert r.status_code == 503 and r.json()["code"] == "bundle.integrity"
    assert client.get("/readyz").json()["build_id"] == "build-001"
    assert "checksum mismatch" in client.get("/v1/index", headers=h).json()["reload_error"]
    assert client.post("/v1/match", json={"text": "电池"}, headers=h).status_code == 200
    # publishing a bundle that cannot load: published, but the old one keeps serving
    r = client.post("/v1/admin/publish", json={"build_id": "build-broken-2"}, headers=h).json()
    assert (r["build_id"], r["serving"], r["swapped"]) == ("build-broken-2", "build-001", False)
    assert "checksum mismatch" in r["reload_error"]
    engine.load_snapshot = original
    assert client.post("/v1/admin/reload", headers=h).json()["serving"] == "build-broken-2"
    assert client.get("/v1/index", headers=h).json()["reload_error"] is None


def test_rebuild_job(client, keys):
    h = hdr(keys["operator"])
    r = client.post("/v1/admin/rebuild", headers=h)
    assert r.status_code == 202 and r.json()["kind"] == "rebuild"
    jid = r.json()["job_id"]
    client.app.state.jobs.futures[jid].result(timeout=30)
    job = client.get(f"/v1/jobs/{jid}", headers=h).json()
    assert job["status"] == "succeeded" and job["params"]["build_id"] == "build-002"
    assert job["result_url"] is None


def test_keys_over_http(client, keys):
    h = hdr(keys["operator"])
    r = client.post("/v1/admin/keys", json={"name": "光伏中心", "role": "centre", "centre": "cz-pv",
                                            "chains": ["pv"]}, headers=h)
    assert r.status_code == 201
    new = r.json()
    assert client.get("/v1/chains", headers=hdr(new["key"])).json()["items"][0]["id"] == "pv"
    listed = client.get("/v1/admin/keys", params={"limit": 100}, headers=h).json()
    assert new["key_id"] in {k["key_id"] for k in listed["items"]}
    assert all("key" not in k for k in listed["items"])
    r = client.post("/v1/admin/keys", json={"name": "x", "role": "centre"}, headers=h)
    assert r.status_code == 400
    r = client.post("/v1/admin/keys", json={"name": "x", "role": "centre", "centre": "c",
                                            "chains": ["nevv"]}, headers=h)
    assert r.status_code == 400 and "nevv" in r.json()["message"]
    assert client.delete(f"/v1/admin/keys/{new['key_id']}", headers=h).json()["revoked_at"]
    client.app.state.keys._cache.clear()
    assert client.get("/v1/chains", headers=hdr(new["key"])).status_code == 401
    assert client.delete("/v1/admin/keys/abcdef", headers=h).status_code == 404


def test_only_hashes_are_stored(app, keys, settings):
    raw = stored_bytes(app)
    for k in keys.values():
        assert k.encode() not in raw
        assert k.split("_", 2)[2].encode() not in raw


def test_audit_log(client, keys, settings):
    client.get("/v1/demands/D-A-PUB", headers=hdr(keys["centre_a"]))
    client.post("/v1/match", json={"text": "锂电池低温"}, headers=hdr(keys["analyst"]))
    client.get("/v1/demands/D-B-CONF", headers=hdr(keys["centre_a"]))  # 404: a probe, not a read
    h = hdr(keys["operator"])
    log = client.get("/v1/audit", headers=h).json()
    assert log["total"] >= 2
    newest = log["items"][1]  # [0] is the hidden-id probe
    assert newest["action"] == "match.text" and newest["query"] == "锂电池低温"
    assert newest["role"] == "analyst" and newest["key_name"] == "analyst"
    assert newest["result_count"] >= 1 and newest["ts"]
    reads = client.get("/v1/audit", params={"action": "demands.read"}, headers=h).json()
    assert [(e["target"], e["key_name"]) for e in reads["items"]] == [("D-A-PUB", "centre_a")]
    hidden = client.get("/v1/audit", params={"action": "demands.hidden"}, headers=h).json()
    assert [(e["target"], e["key_name"], e["status"]) for e in hidden["items"]] == [
        ("D-B-CONF", "centre_a", 404)]
    assert client.get("/v1/audit", headers=hdr(keys["analyst"])).status_code == 403
    # append-only at the storage level, on both backends
    db = client.app.state.db.engine
    for stmt in ("DELETE FROM audit_log", "UPDATE audit_log SET role='operator'"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.begin() as conn:
            conn.execute(sa.text(stmt))


def test_metrics(client, keys):
    h = hdr(keys["analyst"])
    client.post("/v1/match", json={"text": "电池"}, headers=h)
    client.get("/v1/demands/D-NOPE", headers=h)
    r = client.get("/metrics", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'patmatch_http_requests_total{method="POST",route="/v1/match",status="200"} 1.0' in text
    assert 'route="/v1/demands/{demand_id}",status="404"' in text
    assert "patmatch_http_request_duration_seconds_bucket" in text
    assert 'patmatch_bundle_info{build_id="build-001"} 1.0' in text
    client.post("/v1/admin/publish", json={"build_id": "build-002"}, headers=hdr(keys["operator"]))
    text = client.get("/metrics", headers=h).text
    assert 'patmatch_bundle_info{build_id="build-002"} 1.0' in text
    assert 'build_id="build-001"' not in text
    assert client.get("/metrics", headers=hdr(keys["broker"])).status_code == 403


def test_audit_never_holds_contact_data(client, keys, settings):
    r = client.post("/v1/demands", json={"text": "需要电池均衡技术", "contact_phone": "13700001234",
                                         "contact_email": "li@example.com",
                                         "contact_name": "李雷"}, headers=hdr(keys["centre_b"]))
    assert r.status_code == 201
    did = r.json()["id"]
    client.get(f"/v1/demands/{did}", headers=hdr(keys["analyst"]))
    client.get("/v1/demands", headers=hdr(keys["broker"]))
    raw = stored_bytes(client.app)
    for secret in ("13700001234", "li@example.com", "李雷"):
        assert secret.encode() not in raw
    entries = client.get("/v1/audit", headers=hdr(keys["operator"])).json()["items"]
    assert [e["action"] for e in entries[:3]] == ["demands.list", "demands.read",
                                                  "demands.create"]
