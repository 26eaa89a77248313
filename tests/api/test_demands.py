"""Demand create/read/update/delete, pagination, and matching for new demands."""

from __future__ import annotations

from tests.api.conftest import VISIBLE, hdr


def test_centre_creates_its_own_demand(client, keys, engine):
    h = hdr(keys["centre_a"])
    r = client.post("/v1/demands", json={
        "title": "电机散热", "text": "我们需要改进电机控制器的散热结构，降低温升。",
        "contact_phone": "13912345678", "confidential": True, "cooperation_mode": "合作开发"},
        headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["owner"] == "cz-nev" and body["chain"] == "nev"  # its only chain by default
    assert body["contact_phone"] == "13912345678" and not body["contacts_masked"]
    did = body["id"]
    assert engine.demands[did].owner == "cz-nev"
    # its own confidential demand: visible to it, hidden from the other centre and brokers
    assert client.get(f"/v1/demands/{did}", headers=h).status_code == 200
    for other in ("centre_b", "broker", "broker_nev"):
        assert client.get(f"/v1/demands/{did}", headers=hdr(keys[other])).status_code == 404
    masked = client.get(f"/v1/demands/{did}", headers=hdr(keys["analyst"])).json()
    assert masked["contacts_masked"] and "12345678" not in masked["contact_phone"]
    # a demand posted after the last build is matched by its text
    r = client.get(f"/v1/demands/{did}/matches", headers=h)
    assert r.status_code == 200 and r.json()["items"][0]["record_id"] == "P-NEV-1"


def test_only_operators_choose_ids_and_owners(client, keys):
    r = client.post("/v1/demands", json={"id": "D-MINE", "text": "需要电池技术"},
                    headers=hdr(keys["centre_a"]))
    assert r.status_code == 403
    r = client.post("/v1/demands", json={"text": "需要电池技术", "owner": "cz-bat"},
                    headers=hdr(keys["centre_a"]))
    assert r.status_code == 403
    r = client.post("/v1/demands", json={"id": "D-OP-1", "text": "需要电池技术",
                                         "owner": "cz-bat", "chain": "动力电池与新型储能"},
                    headers=hdr(keys["operator"]))
    assert r.status_code == 201 and r.json()["owner"] == "cz-bat"
    assert r.json()["chain"] == "battery_storage"  # stored as the chain id
    # the Chinese chain name resolves to the chain id for scoping
    assert client.get("/v1/demands/D-OP-1", headers=hdr(keys["centre_b"])).status_code == 200
    r = client.post("/v1/demands", json={"id": "D-OP-1", "text": "again"},
                    headers=hdr(keys["operator"]))
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert r.json()["message"] == "demand 'D-OP-1' already exists; update it with PATCH"


def test_centre_cannot_post_outside_its_chains(client, keys):
    r = client.post("/v1/demands", json={"text": "光伏清洗", "chain": "pv"},
                    headers=hdr(keys["centre_a"]))
    assert r.status_code == 400 and "pv" in r.json()["message"]


def test_update_rules(client, keys, engine):
    r = client.patch("/v1/demands/D-A-PUB", json={"budget": "30万元", "required_trl": 6},
                     headers=hdr(keys["centre_a"]))
    assert r.status_code == 200 and r.json()["budget"] == "30万元"
    assert engine.demands["D-A-PUB"].required_trl == 6
    assert engine.demands["D-A-PUB"].text.startswith("电动汽车")  # untouched fields stay
    # visible but not its own: 403; not visible: 404
    r = client.patch("/v1/demands/D-A-PUB", json={"budget": "1"}, headers=hdr(keys["centre_b"]))
    assert r.status_code == 404
    r = client.patch("/v1/demands/D-B-PUB", json={"budget": "1"}, headers=hdr(keys["operator"]))
    assert r.status_code == 200
    r = client.patch("/v1/demands/D-A-PUB", json={"text": None}, headers=hdr(keys["operator"]))
    assert r.status_code == 400
    r = client.patch("/v1/demands/D-A-PUB", json={"owner": "x"}, headers=hdr(keys["centre_a"]))
    assert r.status_code == 422  # owner is not an updatable field
    r = client.patch("/v1/demands/D-A-PUB", json={"chain": "battery_storage"},
                     headers=hdr(keys["centre_a"]))
    assert r.status_code == 400


def test_delete_hides_everywhere(client, keys, engine):
    h = hdr(keys["centre_a"])
    assert client.delete("/v1/demands/D-A-PUB", headers=hdr(keys["broker"])).status_code == 403
    assert client.delete("/v1/demands/D-A-PUB", headers=h).status_code == 204
    assert engine.demands["D-A-PUB"].status == "deleted"
    for name in VISIBLE:
        assert client.get("/v1/demands/D-A-PUB", headers=hdr(keys[name])).status_code == 404
    # the bundle still holds it until the next build, but results hide it
    r = client.get("/v1/patents/P-NEV-1/demands", headers=hdr(keys["operator"]))
    assert "D-A-PUB" not in {m["record_id"] for m in r.json()["items"]}
    assert client.delete("/v1/demands/D-A-PUB", headers=h).status_code == 404


def test_pagination_with_total(client, keys):
    h = hdr(keys["operator"])
    pages = [client.get("/v1/demands", params={"limit": 2, "offset": o}, headers=h).json()
             for o in (0, 2, 4, 6, 8)]
    assert all(p["total"] == 7 for p in pages)
    ids = [d["id"] for p in pages for d in p["items"]]
    assert len(ids) == 7 and len(set(ids)) == 7 and ids == sorted(ids)
    assert pages[-1]["items"] == []
    r = client.get("/v1/demands", params={"chain": "battery_storage"}, headers=h).json()
    assert {d["id"] for d in r["items"]} == {"D-B-PUB", "D-B-CONF"}
    r = client.get("/v1/demands", params={"owner": "cz-bat"}, headers=h).json()
    assert r["total"] == 4
    # a scoped key pages its own view, with its own total
    r = client.get("/v1/demands", params={"limit": 2, "offset": 2},
                   headers=hdr(keys["centre_a"])).json()
    assert r["total"] == 3 and [d["id"] for d in r["items"]] == ["D-B-NEVPUB"]


def test_duplicate_id_is_the_stores_409_on_the_real_store(db_settings):
    """create_demand has no check before the insert (it raced): the store's insert-only
    write answers a taken id (SQLite and PostgreSQL) with a 409 naming the id and PATCH;
    the first demand stays as it was."""
    import types

    import pytest

    from indexing.store.record_store import open_store
    from patmatch.errors import ConflictError

    from api.errors import STATUS_OF
    from api.security import Principal
    from api.services.demands import create_demand

    op = Principal(key_id="k1", name="op", role="operator")
    with open_store(db_settings) as store:
        engine = types.SimpleNamespace(store=store)
        first = create_demand(engine, op, {"text": "需要锂电池低温电解液技术"}, demand_id="D-DUP-1")
        assert first.id == "D-DUP-1"
        with pytest.raises(ConflictError) as err:
            create_demand(engine, op, {"text": "另一段需求文本"}, demand_id="D-DUP-1")
        assert err.value.message == "demand 'D-DUP-1' already exists; update it with PATCH"
        assert err.value.details == {"id": "D-DUP-1"}
        assert STATUS_OF[type(err.value)] == 409
        assert store.get_demand("D-DUP-1").text == "需要锂电池低温电解液技术"
