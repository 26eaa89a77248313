"""What a broker needs on every record: labels on a patent's page; grade, TRL, licence
terms, applicant (type in Chinese) and region on every match; filters on them."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings
from tests.api.conftest import DEMANDS, PATENTS, hdr


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pytest.importorskip("matcher.ranker")
    from indexing.build.nightly import run_nightly
    from indexing.build.build_config import BuildConfig
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.store.record_store import open_store
    from labeling_spec import Labeler

    from api.main import create_app

    home = tmp_path_factory.mktemp("broker-home")
    settings = Settings(home=home)
    enc = home / "enc"
    make_tiny_encoder(enc, ["电池", "低温", "散热", "电机", "光伏", "充电"], dim=16, seed=0)
    pats = [p for p, _ in PATENTS]
    pats[0] = dataclasses.replace(pats[0], license_mode="开放许可", open_license=True,
                                  license_fee="3万元/年", license_fee_wan=3.0,
                                  license_fee_period="年", license_payment="按年",
                                  region="江苏省常州市", citations=12)
    pats[1] = dataclasses.replace(pats[1], license_fee="一次性支付20万元", license_fee_wan=20.0,
                                  license_fee_period="一次", license_payment="一次性", trl=7)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(DEMANDS)
    st = run_nightly(settings, config=BuildConfig(encoder=str(enc)), labeler=Labeler.load(),
                     evaluator=lambda _p: {"ndcg@10": 0.5})
    assert st.status == "ok", st.error
    app = create_app(settings, reload_interval=0)
    with TestClient(app) as c:
        key, _ = app.state.keys.create("op", "operator")
        yield c, hdr(key), settings


def test_patent_page_carries_current_labels(client):
    c, h, settings = client
    r = c.get("/v1/patents/P-NEV-1", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    lab = body["labels"]
    assert body["applicant_type_zh"] == "高校" and lab["source"] == "bundle"
    assert "nev" in lab["chains"] and "新能源汽车及汽车核心零部件" in lab["chain_names"]
    assert lab["grade"] in ("A", "B", "C") and lab["grade_reasons"]
    assert lab["trl"] and lab["trl_reasons"]
    assert lab["problem"]
    assert lab["license_terms"] == {**lab["license_terms"], "mode": "开放许可", "fee_wan": 3.0,
                                    "period": "年", "payment": "按年"}
    # the record changes after the build: the page shows labels of the new text
    from indexing.store.record_store import open_store

    with open_store(settings) as store:
        rec = store.get_patent("P-NEV-1")
        store.upsert_patents([dataclasses.replace(rec, abstract=rec.abstract + "具有低噪声的优点。")])
    lab = c.get("/v1/patents/P-NEV-1", headers=h).json()["labels"]
    assert lab["source"] == "fresh" and "低噪声" in (lab["effect"] or "")


def test_match_items_carry_broker_fields_and_scale(client):
    c, h, _ = client
    r = c.post("/v1/match", json={"text": "电机控制器散热", "top_k": 10}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["matching"] == 6 and body["total"] <= body["matching"]
    items = {m["record_id"]: m for m in body["items"]}
    m = items["P-NEV-1"]
    assert (m["license_mode"], m["license_fee_wan"], m["license_payment"]) == ("开放许可", 3.0, "按年")
    assert m["applicant"] == "某某大学" and m["applicant_type_zh"] == "高校"
    assert m["region"] == "江苏省常州市" and m["grade"] in ("A", "B", "C") and m["trl"]
    assert "新能源汽车及汽车核心零部件" in m["chain_names"]
    assert items["P-NEV-2"]["trl"] == 7  # given by a person: wins


def test_filters_min_grade_trl_open_licence_fee(client):
    c, h, _ = client

    def ids(**flt):
        r = c.post("/v1/match", json={"text": "电池 电机 散热 光伏", "top_k": 50, "filters": flt},
                   headers=h)
        assert r.status_code == 200, r.text
        return {m["record_id"] for m in r.json()["items"]}, r.json()

    assert ids(open_license_only=True)[0] == {"P-NEV-1"}
    assert ids(max_fee_wan=5)[0] == {"P-NEV-1"}        # 3 万元/年 fits; 20 万元 once does not
    assert ids(max_fee_wan=25)[0] == {"P-NEV-1", "P-NEV-2"}
    assert ids(min_trl=7)[0] >= {"P-NEV-2"}
    got, body = ids(min_grade="A")
    assert all(m["grade"] == "A" for m in body["items"])
    got_c, _ = ids(min_grade="C")
    assert len(got_c) == 6


@pytest.mark.parametrize("flt", [{"min_grade": "D"}, {"min_trl": 0}, {"max_required_trl": 10},
                                 {"max_fee_wan": -1}, {"max_fee_wan": "很多"}, {"min_grade": 3}])
def test_garbage_filters_are_422(client, flt):
    c, h, _ = client
    r = c.post("/v1/match", json={"text": "电池", "filters": flt}, headers=h)
    assert r.status_code == 422, r.text


def test_chain_pairs_carry_patent_facts(client):
    c, h, _ = client
    r = c.get("/v1/chains/新能源汽车及汽车核心零部件/pairs", headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(it["grade"] in ("A", "B", "C") for it in items)
    nev1 = [it for it in items if it["patent_id"] == "P-NEV-1"]
    assert nev1 and nev1[0]["license_mode"] == "开放许可" and nev1[0]["applicant_type_zh"] == "高校"
