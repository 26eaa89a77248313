"""What the real engine serves, checked against the store and the ranked depth: chain
counts equal the store's statistics, a page past the depth is a 400 naming the limit, the
echoed query text is masked. One real bundle built from a store (tiny encoder)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings

from tests.api.conftest import DEMANDS, PATENTS, hdr

# labels as the labeler would store them: the chains a record belongs to
PATENT_CHAINS = {p.id: list(c) for p, c in PATENTS}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("matcher.ranker")
    from indexing.build.pipeline import build
    from indexing.build.publish import publish
    from indexing.encoders.encoder import EncoderConfig
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.store.record_store import open_store
    from indexing.text.tokenizer import ChineseTokenizer

    from api.main import create_app

    home = tmp_path_factory.mktemp("figures-home")
    settings = Settings(home=home)
    enc_dir = home / "tiny-encoder"
    encoder = make_tiny_encoder(enc_dir, ["电池", "低温", "散热", "光伏", "充电", "电机"],
                                dim=32, seed=0)
    patents = [p for p, _ in PATENTS]
    # a lapsed patent and a deleted demand: the store holds them, the bundle leaves them out
    lapsed = dataclasses.replace(patents[0], id="P-NEV-LAPSED", legal_status="失效")
    deleted = dataclasses.replace(DEMANDS[0], id="D-A-DELETED")
    store = open_store(settings)
    store.upsert_patents([*patents, lapsed])
    store.upsert_demands([*DEMANDS, deleted])
    store.delete_demand("D-A-DELETED")
    # saved as the installed labeler's current labels (its version, each record's digest):
    # the build keeps them instead of relabelling, so the chains below are the ones counted
    from indexing.build.relabel import for_labelling, label_digest
    from labeling_spec import Labeler

    version = Labeler.load().version
    chains = {**PATENT_CHAINS, "P-NEV-LAPSED": ["nev"]}
    store.save_labels("patents", {p.id: {"chains": chains[p.id], "labeler_version": version,
                                         "record_digest": label_digest(p)}
                                  for p in [*patents, lapsed]}, version)
    store.save_labels("demands", {d.id: {"chains": ["nev" if "汽车" in d.chain else d.chain],
                                         "labeler_version": version,
                                         "record_digest": label_digest(d)}
                                  for d in for_labelling("demands", [*DEMANDS, deleted])}, version)
    build_id = build(store, settings, tokenizer=ChineseTokenizer(), encoder=encoder,
                     encoder_config=EncoderConfig(name=str(enc_dir)).to_dict())
    publish(settings, build_id)
    app = create_app(settings, reload_interval=0)
    with TestClient(app) as client:
        keys = {n: app.state.keys.create(n, r, centre=c, chains=ch)[0] for n, r, c, ch in [
            ("operator", "operator", None, ()), ("centre_a", "centre", "cz-nev", ("nev",)),
            ("broker", "broker", None, ())]}
        yield client, keys, store
    store.close()


def test_chain_counts_equal_the_store(served):
    from indexing.store.stats import Period, record_stats

    client, keys, store = served
    stats = record_stats(store, Period.parse("2000-01-01", "2100-12-31"))
    want = {row["chain"]: (row["patents_valid"], row["demands"]) for row in stats["chains"]}
    page = client.get("/v1/chains", params={"limit": 200}, headers=hdr(keys["operator"])).json()
    got = {c["id"]: (c["patents"], c["demands"]) for c in page["items"]}
    assert got["nev"] == want["nev"] and got["nev"][0] is not None
    for chain_id, (patents, demands) in got.items():
        assert (patents or 0, demands or 0) == want.get(chain_id, (0, 0)), chain_id
    # the lapsed patent and the deleted demand are in the store but not counted
    assert want["nev"][0] < sum(1 for c in PATENT_CHAINS.values() if "nev" in c) + 1
    # a centre sees its own chain, with the same figures
    mine = client.get("/v1/chains", headers=hdr(keys["centre_a"])).json()["items"]
    assert [(c["id"], c["patents"], c["demands"]) for c in mine] == [("nev", *want["nev"])]


@pytest.mark.parametrize("offset,limit", [(190, 20), (199, 2), (200, 1), (1990, 20)])
def test_a_page_past_the_ranked_depth_is_a_400_naming_it(served, offset, limit):
    client, keys, _ = served
    op = hdr(keys["operator"])
    r = client.post("/v1/match", json={"text": "电池", "offset": offset, "top_k": limit},
                    headers=op)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "input.page_depth"
    assert body["details"] == {"offset": offset, "limit": limit, "depth": 200,
                               "max_offset_plus_limit": 200}
    assert "200" in body["message"]
    r = client.post("/v1/match", json={"demand_id": "D-A-PUB", "offset": offset,
                                       "top_k": limit}, headers=op)
    assert r.status_code == 400 and r.json()["code"] == "input.page_depth"
    r = client.get("/v1/demands/D-A-PUB/matches", params={"offset": offset, "limit": limit},
                   headers=op)
    assert r.status_code == 400 and r.json()["code"] == "input.page_depth"
    r = client.get("/v1/patents/P-BAT-1/demands", params={"offset": offset, "limit": limit},
                   headers=op)
    assert r.status_code == 400 and r.json()["code"] == "input.page_depth"


def test_pages_within_the_depth_still_answer(served):
    client, keys, _ = served
    op = hdr(keys["operator"])
    r = client.post("/v1/match", json={"text": "电池", "offset": 180, "top_k": 20}, headers=op)
    assert r.status_code == 200 and r.json()["items"] == []  # past the end of a short list
    # a deeper fused list per request moves the limit with it
    r = client.post("/v1/match", json={"text": "电池", "offset": 190, "top_k": 20,
                                       "fusion": {"depth": 400}}, headers=op)
    assert r.status_code == 200, r.text
    # chain pairs page over a list of up to 2000 pairs
    assert client.get("/v1/chains/nev/pairs", params={"offset": 1980, "limit": 20},
                      headers=op).status_code == 200
    r = client.get("/v1/chains/nev/pairs", params={"offset": 1990, "limit": 20}, headers=op)
    assert r.status_code == 400 and r.json()["details"]["depth"] == 2000


def test_the_documented_400_is_in_the_openapi_document(served):
    client, _, _ = served
    doc = client.get("/openapi.json").json()
    for path, method in (("/v1/match", "post"), ("/v1/demands/{demand_id}/matches", "get"),
                         ("/v1/patents/{patent_id}/demands", "get"),
                         ("/v1/chains/{chain}/pairs", "get")):
        assert "400" in doc["paths"][path][method]["responses"], path


PLANTED = ("13912345678", "wxm@qq.com", "110101199003077777", "王小明")


def test_the_echoed_query_text_is_masked(served):
    client, keys, _ = served
    text = ("锂离子电池低温放电性能差，联系人王小明，电话13912345678，邮箱wxm@qq.com，"
            "身份证110101199003077777")
    for key in ("operator", "broker", "centre_a"):
        r = client.post("/v1/match", json={"text": text, "top_k": 5}, headers=hdr(keys[key]))
        assert r.status_code == 200, r.text
        body = r.text
        assert "低温" in r.json()["query"]["text"]
        for value in PLANTED:
            assert value not in body, (key, value)
