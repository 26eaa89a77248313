"""The real engine end to end: SQLite store, a real bundle (tiny encoder), the real ranker,
publish through the API, a hot swap to a second real bundle, batch jobs via matcher.batch."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings

from tests.api.conftest import DEMANDS, PATENTS, hdr


def _bundle(settings: Settings, build_id: str, patents, demands, encoder_dir: Path) -> None:
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer

    tokenizer = ChineseTokenizer()
    encoder = load_encoder(EncoderConfig(name=str(encoder_dir)), settings)
    chains = {p.id: list(c) for p, c in PATENTS}
    labels = {"patents": {p.id: {"chains": chains[p.id]} for p in patents},
              "demands": {d.id: {"chains": ["nev" if "汽车" in d.chain else d.chain]}
                          for d in demands}}
    build_bundle(patents, demands, out_dir=settings.staging_dir / build_id, tokenizer=tokenizer,
                 encoder=encoder, encoder_config={"name": str(encoder_dir)}, build_id=build_id,
                 labels=labels)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    pytest.importorskip("matcher.ranker")
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.build.publish import publish
    from indexing.store.record_store import open_store

    from api.main import create_app

    home = tmp_path_factory.mktemp("live-home")
    settings = Settings(home=home)
    enc_dir = home / "tiny-encoder"
    vocab = sorted({w for p, _ in PATENTS for w in (p.title[2:6], p.title[-4:])} |
                   {"电池", "低温", "散热", "光伏", "充电"})
    make_tiny_encoder(enc_dir, vocab, dim=32, seed=0)
    store = open_store(settings)
    patents = [p for p, _ in PATENTS]
    store.upsert_patents(patents)
    store.upsert_demands(DEMANDS)
    store.close()
    _bundle(settings, "live-1", patents, DEMANDS, enc_dir)
    _bundle(settings, "live-2", patents[:4], DEMANDS, enc_dir)
    publish(settings, "live-1")
    app = create_app(settings, reload_interval=0)
    with TestClient(app) as client:
        keys = {n: app.state.keys.create(n, r, centre=c, chains=ch)[0] for n, r, c, ch in [
            ("operator", "operator", None, ()), ("centre_a", "centre", "cz-nev", ("nev",)),
            ("broker", "broker", None, ())]}
        yield client, keys


def test_live_match_and_explain(live):
    client, keys = live
    assert client.get("/readyz").json()["build_id"] == "live-1"
    r = client.post("/v1/match", json={"text": "锂离子电池低温放电性能差，冬季续航衰减", "top_k": 3},
                    headers=hdr(keys["operator"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["items"][0]["record_id"] == "P-BAT-1"
    assert body["items"][0]["reason"] and body["items"][0]["matched_terms"]
    h = body["items"][0]["highlights"][0]
    assert {"field", "start", "end", "term"} <= set(h)
    r = client.post("/v1/match", json={"text": "电池", "fusion": {"method": "rrf", "rrf_k": 10}},
                    headers=hdr(keys["operator"]))
    assert r.status_code == 200
    info = client.get("/v1/index", headers=hdr(keys["operator"])).json()
    assert info["build_id"] == "live-1" and info["counts"]


def test_live_scoping_and_masking(live):
    client, keys = live
    a = hdr(keys["centre_a"])
    assert client.get("/v1/demands/D-A-CONF", headers=a).status_code == 200
    assert client.get("/v1/demands/D-B-NEVCONF", headers=a).status_code == 404
    listed = client.get("/v1/demands", headers=a).json()
    assert {d["id"] for d in listed["items"]} == {"D-A-PUB", "D-A-CONF", "D-B-NEVPUB"}
    other = client.get("/v1/demands/D-B-NEVPUB", headers=a).json()
    assert other["contacts_masked"] and other["contact_phone"] != "13812345678"
    for pid in ("P-NEV-3", "P-BAT-1"):
        r = client.get(f"/v1/patents/{pid}/demands", headers=hdr(keys["broker"]))
        ids = {m["record_id"] for m in r.json()["items"]}
        assert not ids & {"D-A-CONF", "D-B-CONF", "D-B-NEVCONF"}
    d = client.get("/v1/demands/D-B-PUB", headers=hdr(keys["broker"])).json()
    assert d["contact_phone"] == "13812345678"
    r = client.post("/v1/match", json={"text": "光伏组件清洗 电机 充电"}, headers=a).json()
    assert r["items"] and all("nev" in m["chains"] for m in r["items"])
    r = client.get("/v1/chains", headers=a).json()
    assert [c["id"] for c in r["items"]] == ["nev"]


def test_live_demand_crud_and_match(live):
    client, keys = live
    a = hdr(keys["centre_a"])
    r = client.post("/v1/demands", json={"text": "希望改进车载充电机控制方法，提高充电效率",
                                         "contact_phone": "13900001111"}, headers=a)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    # not in the bundle yet: matched by its text
    r = client.get(f"/v1/demands/{did}/matches", headers=a)
    assert r.status_code == 200 and r.json()["items"][0]["record_id"] == "P-NEV-3"
    r = client.patch(f"/v1/demands/{did}", json={"budget": "20万元"}, headers=a)
    assert r.json()["budget"] == "20万元" and r.json()["contact_phone"] == "13900001111"
    seen = client.get(f"/v1/demands/{did}", headers=hdr(keys["operator"])).json()
    assert seen["contact_phone"] == "13900001111"  # operators see contacts
    page = client.get("/v1/demands", params={"limit": 2}, headers=hdr(keys["operator"])).json()
    assert page["total"] == len(DEMANDS) + 1 and len(page["items"]) == 2
    assert client.delete(f"/v1/demands/{did}", headers=a).status_code == 204
    assert client.get(f"/v1/demands/{did}", headers=a).status_code == 404
    page = client.get("/v1/demands", params={"limit": 2}, headers=hdr(keys["operator"])).json()
    assert page["total"] == len(DEMANDS)


def test_live_batch_job(live):
    client, keys = live
    csv = "需求编号,需求描述\nQ1,锂离子电池低温续航衰减\nQ2,光伏组件清洗机器人\n".encode()
    h = hdr(keys["operator"])
    r = client.post("/v1/jobs/match", files={"file": ("d.csv", io.BytesIO(csv))},
                    data={"top_k": "2"}, headers=h)
    assert r.status_code == 202, r.text
    jid = r.json()["job_id"]
    client.app.state.jobs.futures[jid].result(timeout=60)
    job = client.get(f"/v1/jobs/{jid}", headers=h).json()
    assert job["status"] == "succeeded", job
    out = client.get(f"/v1/jobs/{jid}/result", headers=h)
    lines = out.text.splitlines()
    assert lines[0].lstrip("\ufeff").startswith("demand_id,rank,patent_id")
    assert job["rows"] == 4 and sum(ln.startswith(("Q1,", "Q2,")) for ln in lines) == 4


def test_live_patent_to_demand_job(live):
    client, keys = live
    csv = "id,title,abstract\nNP1,一种锂电池低温电解液,改善锂离子电池低温放电性能\n".encode()
    h = hdr(keys["operator"])
    r = client.post("/v1/jobs/match", files={"file": ("p.csv", io.BytesIO(csv))},
                    data={"top_k": "3", "direction": "patent-to-demand", "format": "parquet"},
                    headers=h)
    assert r.status_code == 202, r.text
    client.app.state.jobs.futures[r.json()["job_id"]].result(timeout=60)
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=h).json()
    assert job["status"] == "succeeded" and job["rows"] == 3, job
    out = client.get(job["result_url"], headers=h)
    assert out.status_code == 200 and out.content[:4] == b"PAR1"


def test_live_publish_and_rollback_swap(live):
    client, keys = live
    h = hdr(keys["operator"])
    r = client.post("/v1/admin/publish", json={"build_id": "live-2"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["serving"] == "live-2"
    r = client.post("/v1/match", json={"text": "光伏组件清洗机器人"}, headers=h).json()
    assert r["build_id"] == "live-2"
    assert "P-PV-1" not in {m["record_id"] for m in r["items"]}  # not in live-2
    r = client.post("/v1/admin/rollback", headers=h).json()
    assert r["serving"] == "live-1"
    pairs = client.get("/v1/chains/battery_storage/pairs", headers=h)
    assert pairs.status_code == 200, pairs.text



def test_live_swap_back_reuses_the_loaded_snapshot(live):
    """live-2 -> live-1 -> live-2: the second switch to a bundle reuses its loaded,
    verified and prepared snapshot (same ranker); a forced reload reads it afresh."""
    client, keys = live
    h = hdr(keys["operator"])
    engine = client.app.state.engine
    assert client.post("/v1/admin/publish", json={"build_id": "live-2"}, headers=h).json()[
        "serving"] == "live-2"
    first = engine.current.ranker
    assert client.post("/v1/admin/rollback", headers=h).json()["serving"] == "live-1"
    assert client.post("/v1/admin/publish", json={"build_id": "live-2"}, headers=h).json()[
        "serving"] == "live-2"
    assert engine.current.ranker is first
    r = client.post("/v1/match", json={"text": "电池包热管理"}, headers=h)
    assert r.status_code == 200 and r.json()["build_id"] == "live-2"
    assert engine.refresh(force=True)
    assert engine.current.ranker is not first  # forced: loaded from disk again
    assert client.post("/v1/admin/rollback", headers=h).json()["serving"] == "live-1"


def test_recorded_quality_only_for_gated_published_bundles(tmp_path):
    import json

    from indexing.index.bundle import FORMAT_VERSION

    from api.live import _recorded_quality

    bundles = tmp_path / "bundles"
    for name, quality in (("gated", {"ndcg@10": 0.5, "gate": "passed", "tolerance": 0.01,
                                     "metric": "ndcg@10"}),
                          ("skipped", {"gate": "skipped"}), ("none", None)):
        d = bundles / name
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps({"build_id": name, "quality": quality,
                                                          "format_version": FORMAT_VERSION}))
    assert _recorded_quality(bundles / "gated", bundles) == {"ndcg@10": 0.5}
    assert _recorded_quality(bundles / "skipped", bundles) is None
    assert _recorded_quality(bundles / "none", bundles) is None
    assert _recorded_quality(bundles / "gated", tmp_path / "staging") is None  # not published


def test_a_bundle_built_with_another_tokenizer_is_never_served(tmp_path):
    """The engine builds the tokenizer from the bundle's recorded config; when that no
    longer gives the recorded fingerprint (tokenizer code or dictionary changed since the
    build), loading is refused with a message naming both fingerprints."""
    import json

    from indexing.training.tiny_encoder import make_tiny_encoder
    from patmatch.errors import BundleMismatchError

    from api.live import LiveEngine

    settings = Settings(home=tmp_path / "home")
    enc_dir = tmp_path / "enc"
    make_tiny_encoder(enc_dir, ["电池", "低温", "散热"], dim=16, seed=0)
    patents = [p for p, _ in PATENTS]
    _bundle(settings, "mm-1", patents, DEMANDS, enc_dir)
    path = settings.staging_dir / "mm-1"
    LiveEngine(settings)._load_snapshot(path)  # as built: served
    m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    m["tokenizer"]["fingerprint"] = "tok-0000000000000000"
    (path / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(BundleMismatchError, match="tok-0000000000000000"):
        LiveEngine(settings)._load_snapshot(path)
