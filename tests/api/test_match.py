"""POST /v1/match and the other explained lists."""

from __future__ import annotations

from tests.api.conftest import VISIBLE, hdr


def test_text_match_is_explained(client, keys, engine):
    text = "锂离子电池低温放电性能差，冬季续航衰减"
    r = client.post("/v1/match", json={"text": text, "top_k": 3}, headers=hdr(keys["analyst"]))
    assert r.status_code == 200
    body = r.json()
    assert body["build_id"] == "build-001" and body["query"]["kind"] == "text"
    top = body["items"][0]
    assert top["record_id"] == "P-BAT-1" and top["rank"] == 1
    # the API passes the ranker's explanation through unchanged (its wording is the
    # matcher's business, tested in tests/matcher/)
    ranked = engine.current.ranker.match_text(text, filters=engine.make_filters(), limit=3)
    assert top["reason"] and top["reason"] == ranked.items[0].reason
    assert top["matched_terms"] == list(ranked.items[0].matched_terms)
    assert {"lexical_score", "semantic_score", "lexical_rank", "semantic_rank",
            "highlights", "shared_labels", "chains"} <= set(top)
    assert body["total"] >= len(body["items"])


def test_demand_match_filters_fusion_and_pages(client, keys, engine):
    h = hdr(keys["operator"])
    full = client.post("/v1/match", json={"demand_id": "D-B-PUB", "top_k": 10}, headers=h).json()
    assert full["items"][0]["record_id"] == "P-BAT-1"
    ids = [m["record_id"] for m in full["items"]]
    p1 = client.post("/v1/match", json={"demand_id": "D-B-PUB", "top_k": 2}, headers=h).json()
    p2 = client.post("/v1/match", json={"demand_id": "D-B-PUB", "top_k": 2, "offset": 2},
                     headers=h).json()
    assert [m["record_id"] for m in p1["items"] + p2["items"]] == ids[:4]
    assert [m["rank"] for m in p2["items"]] == [3, 4][:len(p2["items"])]
    r = client.post("/v1/match", json={"demand_id": "D-B-PUB", "filters": {
        "chains": ["nev"], "applicant_types": ["institute"], "date_from": "2020-01-01"},
        "fusion": {"method": "rrf", "rrf_k": 30, "weights": [1.0, 0.5]}}, headers=h)
    assert r.status_code == 200
    assert all("nev" in m["chains"] for m in r.json()["items"])
    kind, flt = engine.current.ranker.calls[-1]
    assert kind == "demand" and flt.chains == ("nev",) and flt.applicant_types == ("institute",)
    r = client.post("/v1/match", json={"text": "电池", "fusion": {"method": "magic"}}, headers=h)
    assert r.status_code == 422
    r = client.post("/v1/match", json={"text": "电池", "fusion": {"lexical_bound": 0.0}}, headers=h)
    assert r.status_code == 200
    for bad in (1.5, -0.1, "x"):
        r = client.post("/v1/match", json={"text": "电池", "fusion": {"lexical_bound": bad}}, headers=h)
        assert r.status_code == 422, bad


def test_patent_to_demands_and_chain_pairs(client, keys):
    r = client.get("/v1/patents/P-BAT-1", headers=hdr(keys["broker"]))
    assert r.status_code == 200 and r.json()["ipc"] == ["H01M10/0525"]
    r = client.get("/v1/patents/P-BAT-1/demands", headers=hdr(keys["operator"]))
    assert r.json()["items"][0]["record_id"] == "D-B-PUB"
    r = client.get("/v1/chains/battery_storage/pairs", headers=hdr(keys["operator"])).json()
    assert r["chain"] == "battery_storage" and r["total"] == 2
    assert {(p["demand_id"], p["patent_id"]) for p in r["items"]} == {
        ("D-B-PUB", "P-BAT-1"), ("D-B-CONF", "P-BAT-2")}
    # a centre sees its chain's pairs minus other centres' confidential demands
    r = client.get("/v1/chains/nev/pairs", headers=hdr(keys["centre_a"])).json()
    assert {p["demand_id"] for p in r["items"]} == {"D-A-PUB", "D-A-CONF", "D-B-NEVPUB"}
    # chain by Chinese name
    r = client.get("/v1/chains/人工智能/pairs", headers=hdr(keys["operator"]))
    assert r.status_code == 200 and r.json()["chain"] == "ai"
    assert client.get("/v1/chains/nope/pairs", headers=hdr(keys["operator"])).status_code == 404


def test_hidden_demands_do_not_shorten_pages(client, keys):
    # P-NEV-3 (车载充电机) best matches D-B-NEVCONF, confidential: brokers may not see it
    op = client.get("/v1/patents/P-NEV-3/demands", headers=hdr(keys["operator"])).json()
    assert op["items"][0]["record_id"] == "D-B-NEVCONF"
    a = client.get("/v1/patents/P-NEV-3/demands", params={"limit": 1},
                   headers=hdr(keys["broker"])).json()
    expected = next(m["record_id"] for m in op["items"] if m["record_id"] in VISIBLE["broker"])
    assert len(a["items"]) == 1 and a["items"][0]["record_id"] == expected
    assert a["items"][0]["rank"] == 1 and a["total"] == op["total"] - 1
