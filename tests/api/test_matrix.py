"""The role x endpoint matrix, and the scope/visibility/masking matrix over known demands."""

from __future__ import annotations

import io

import pytest

from api.security import PERMISSIONS
from tests.api.conftest import DEMANDS, KEYS, VISIBLE, hdr

ALL_IDS = [d.id for d in DEMANDS]

# (action, method, path, kwargs): one row per endpoint; success statuses per endpoint
ENDPOINTS = [
    ("demands:read", "GET", "/v1/demands", {}),
    ("demands:read", "GET", "/v1/demands/D-A-PUB", {}),
    ("demands:write", "POST", "/v1/demands", {"json": {"text": "需要一种电机散热技术"}}),
    ("demands:write", "PATCH", "/v1/demands/D-A-PUB", {"json": {"budget": "10万元"}}),
    ("patents:read", "GET", "/v1/patents/P-NEV-1", {}),
    ("match", "POST", "/v1/match", {"json": {"text": "电机散热"}}),
    ("match", "GET", "/v1/demands/D-A-PUB/matches", {}),
    ("match", "GET", "/v1/patents/P-NEV-1/demands", {}),
    ("chains:read", "GET", "/v1/chains", {}),
    ("match", "GET", "/v1/chains/nev/pairs", {}),
    ("index:read", "GET", "/v1/index", {}),
    ("jobs", "GET", "/v1/jobs", {}),
    ("jobs", "POST", "/v1/jobs/match", {"files": {"file": ("d.csv", "id,text\nQ1,电机散热\n".encode())}}),
    ("admin", "POST", "/v1/admin/reload", {}),
    ("admin", "POST", "/v1/admin/publish", {"json": {"build_id": "build-009"}}),
    ("admin", "POST", "/v1/admin/rebuild", {}),
    ("admin", "GET", "/v1/admin/keys", {}),
    ("audit:read", "GET", "/v1/audit", {}),
    ("metrics:read", "GET", "/metrics", {}),
    ("reports", "GET", "/v1/reports", {}),
]


def _call(client, method, path, kwargs, headers):
    kw = dict(kwargs)
    if "files" in kw:
        kw["files"] = {k: (n, io.BytesIO(b)) for k, (n, b) in kw["files"].items()}
    return client.request(method, path, headers=headers, **kw)


@pytest.mark.parametrize("action,method,path,kwargs", ENDPOINTS,
                         ids=[f"{m} {p}" for _, m, p, _ in ENDPOINTS])
def test_role_x_endpoint(client, keys, action, method, path, kwargs):
    r = _call(client, method, path, kwargs, {})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "auth.required"
    r = _call(client, method, path, kwargs, hdr("pm_00000000_not-a-key"))
    assert r.status_code == 401
    for name in KEYS:
        role = KEYS[name][0]
        r = _call(client, method, path, kwargs, hdr(keys[name]))
        if role in PERMISSIONS[action]:
            # D-A-PUB is cz-nev's: the other centre is allowed the action but not the record
            # and the nev chain is not centre_b's: "not found" too
            if name == "centre_b" and ("D-A-PUB" in path or "/chains/nev" in path):
                assert r.status_code == 404, (name, r.text)
            else:
                assert r.status_code in (200, 201, 202), (name, r.status_code, r.text)
        else:
            assert r.status_code in (403, 404), (name, r.status_code, r.text)
            if r.status_code == 403:
                assert r.json()["code"] == "auth.forbidden"


def test_health_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "build_id": "build-001"}


@pytest.mark.parametrize("name", list(KEYS))
def test_read_visibility_matrix(client, keys, name):
    h = hdr(keys[name])
    for did in ALL_IDS:
        visible = did in VISIBLE[name]
        r = client.get(f"/v1/demands/{did}", headers=h)
        assert r.status_code == (200 if visible else 404), (name, did)
        if not visible:
            # indistinguishable from an id that does not exist
            ghost = client.get("/v1/demands/D-NOPE", headers=h).json()
            assert r.json()["code"] == ghost["code"] == "not_found"
            assert set(r.json()) == set(ghost) == {"code", "message", "details"}
        r = client.get(f"/v1/demands/{did}/matches", headers=h)
        assert r.status_code == (200 if visible else 404), (name, did)
        r = client.post("/v1/match", json={"demand_id": did}, headers=h)
        assert r.status_code == (200 if visible else 404), (name, did)
    listed = client.get("/v1/demands", params={"limit": 200}, headers=h).json()
    assert {d["id"] for d in listed["items"]} == VISIBLE[name]
    assert listed["total"] == len(VISIBLE[name])


@pytest.mark.parametrize("name", list(KEYS))
def test_demand_results_never_leak(client, keys, name):
    h = hdr(keys[name])
    seen: set[str] = set()
    for pid in ("P-NEV-1", "P-NEV-2", "P-NEV-3", "P-BAT-1", "P-BAT-2", "P-PV-1"):
        r = client.get(f"/v1/patents/{pid}/demands", params={"limit": 50}, headers=h)
        assert r.status_code == 200
        ids = {m["record_id"] for m in r.json()["items"]}
        assert ids <= VISIBLE[name], (name, pid, ids - VISIBLE[name])
        assert r.json()["total"] >= len(ids)
        seen |= ids
    for chain in ("nev", "battery_storage", "pv"):
        r = client.get(f"/v1/chains/{chain}/pairs", headers=h)
        if r.status_code == 404:
            assert KEYS[name][2] and chain not in KEYS[name][2]
            continue
        ids = {p["demand_id"] for p in r.json()["items"]}
        assert ids <= VISIBLE[name], (name, chain)
        seen |= ids
    # the rule hides, it does not hide everything: each role sees some of its demands
    assert seen & VISIBLE[name]


@pytest.mark.parametrize("name", list(KEYS))
def test_masking_matrix(client, keys, name):
    h = hdr(keys[name])
    role, centre, _ = KEYS[name]
    for d in DEMANDS:
        if d.id not in VISIBLE[name]:
            continue
        body = client.get(f"/v1/demands/{d.id}", headers=h).json()
        unmasked = role in ("operator", "broker") or (role == "centre" and d.owner == centre)
        assert body["contacts_masked"] is (not unmasked)
        if unmasked:
            assert body["contact_phone"] == "13812345678"
            assert body["contact_email"] == "zhangwei@example.com"
        else:
            assert "12345678" not in body["contact_phone"]
            assert body["contact_phone"].startswith("138")
            assert body["contact_email"] != "zhangwei@example.com"
            assert body["contact_name"] != "张伟"


def test_chains_are_scoped(client, keys):
    def ids(name):
        r = client.get("/v1/chains", headers=hdr(keys[name]))
        return [c["id"] for c in r.json()["items"]]

    assert ids("centre_a") == ["nev"]
    assert ids("centre_b") == ["battery_storage"]
    assert ids("broker_nev") == ["nev"]
    assert len(ids("analyst")) == len(ids("operator")) == 4
    # another chain is "not found" for a scoped key, whether in a path or a filter
    assert client.get("/v1/chains/pv/pairs", headers=hdr(keys["centre_a"])).status_code == 404
    r = client.post("/v1/match", json={"text": "电机散热", "filters": {"chains": ["pv"]}},
                    headers=hdr(keys["centre_a"]))
    assert r.status_code == 404 and r.json()["details"] == {"chain": "pv"}


def test_centre_queries_are_clipped_to_its_chains(client, keys, engine):
    r = client.post("/v1/match", json={"text": "光伏组件清洗机器人 电池 电机"},
                    headers=hdr(keys["centre_a"]))
    assert r.status_code == 200
    assert all("nev" in m["chains"] for m in r.json()["items"])
    assert engine.current.ranker.calls[-1][1].chains == ("nev",)
    r = client.post("/v1/match", json={"text": "光伏组件清洗机器人"}, headers=hdr(keys["analyst"]))
    assert r.json()["items"][0]["record_id"] == "P-PV-1"


def test_delete_matrix(client, keys):
    """Each role tries to withdraw a fresh public nev demand owned by centre cz-nev."""
    expected = {"operator": 204, "centre_a": 204, "centre_b": 404, "analyst": 403,
                "broker": 403, "broker_nev": 403}
    for name, status in expected.items():
        did = f"D-DEL-{name.replace('_', '-')}"
        r = client.post("/v1/demands", json={"id": did, "text": "电机散热改进", "chain": "nev",
                                             "owner": "cz-nev"}, headers=hdr(keys["operator"]))
        assert r.status_code == 201
        r = client.delete(f"/v1/demands/{did}", headers=hdr(keys[name]))
        assert r.status_code == status, (name, r.text)
        assert client.delete(f"/v1/demands/{did}").status_code == 401
