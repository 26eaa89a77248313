"""A published bundle that does not verify is never served: the newest earlier bundle that
verifies serves instead, /readyz and the log say so and name the command that fixes it.
Real bundles (tiny encoder) corrupted on disk the way a bad disk or a careless copy would."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings

from tests.api.conftest import DEMANDS, PATENTS, hdr

BUILDS = ("fb-1", "fb-2", "fb-3")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A home with fb-1, fb-2, fb-3 published in that order (fb-3 current)."""
    pytest.importorskip("matcher.ranker")
    from indexing.build.pipeline import build_bundle
    from indexing.build.publish import publish
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.store.record_store import open_store
    from indexing.text.tokenizer import ChineseTokenizer

    home = tmp_path_factory.mktemp("fallback-home")
    settings = Settings(home=home)
    enc_dir = home / "tiny-encoder"
    make_tiny_encoder(enc_dir, ["电池", "低温", "散热", "光伏"], dim=16, seed=0)
    encoder = load_encoder(EncoderConfig(name=str(enc_dir)), settings)
    patents = [p for p, _ in PATENTS]
    store = open_store(settings)
    store.upsert_patents(patents)
    store.upsert_demands(DEMANDS)
    store.close()
    labels = {"patents": {p.id: {"chains": list(c)} for p, c in PATENTS},
              "demands": {d.id: {"chains": ["nev"]} for d in DEMANDS}}
    for i, build_id in enumerate(BUILDS):
        build_bundle(patents[: 4 + i], DEMANDS, out_dir=settings.staging_dir / build_id,
                     tokenizer=ChineseTokenizer(), encoder=encoder, build_id=build_id,
                     encoder_config={"name": str(enc_dir)}, labels=labels)
        publish(settings, build_id)
    return home


@pytest.fixture()
def home(template: Path, tmp_path: Path) -> Path:
    out = tmp_path / "home"
    shutil.copytree(template, out, symlinks=True)
    return out


def _damage(home: Path, build_id: str, rel: str, *, delete: bool = False) -> None:
    path = home / "bundles" / build_id / rel
    path.parent.chmod(path.parent.stat().st_mode | stat.S_IWUSR)
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    if delete:
        path.unlink()
        return
    with open(path, "r+b") as f:  # one flipped byte: same size, same mtime order
        f.seek(3)
        b = f.read(1)
        f.seek(3)
        f.write(bytes([b[0] ^ 0xFF]))


def _app(home: Path):
    from api.main import create_app

    return create_app(Settings(home=home), reload_interval=0)


def test_a_corrupt_current_bundle_falls_back_to_the_previous_one(home, caplog):
    _damage(home, "fb-3", "patents/ids.txt")
    caplog.set_level(logging.ERROR, logger="patmatch.api.engine")
    app = _app(home)
    with TestClient(app) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "fallback" and body["build_id"] == "fb-2"
        assert body["fallback"]["published"] == "fb-3"
        assert "checksum mismatch for patents/ids.txt" in body["fallback"]["reason"]
        assert body["fallback"]["advice"] == "patmatch rollback"
        key, _ = app.state.keys.create("op", "operator")
        r = c.post("/v1/match", json={"text": "电池"}, headers=hdr(key))
        assert r.status_code == 200 and r.json()["build_id"] == "fb-2"
        assert c.get("/healthz").status_code == 200
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "fb-3" in logged and "Serving fb-2" in logged and "patmatch rollback" in logged


def test_rollback_as_advised_ends_the_fallback(home):
    from indexing.build.publish import rollback

    _damage(home, "fb-3", "demands/vectors.npy")
    app = _app(home)
    with TestClient(app) as c:
        assert c.get("/readyz").json()["status"] == "fallback"
        assert rollback(Settings(home=home)) == "fb-2"  # what `patmatch rollback` does
        app.state.engine.refresh()
        body = c.get("/readyz").json()
        assert body == {"status": "ready", "build_id": "fb-2"}


def test_a_missing_file_and_a_broken_previous_fall_back_further(home):
    _damage(home, "fb-3", "patents/docs.parquet", delete=True)
    _damage(home, "fb-2", "patents/bm25_data.npy")
    with TestClient(_app(home)) as c:
        body = c.get("/readyz").json()
        assert body["build_id"] == "fb-1" and body["status"] == "fallback"
        assert "missing file patents/docs.parquet" in body["fallback"]["reason"]
        # rollback would pick fb-2, which is broken too: publish fb-1 back by id
        assert body["fallback"]["advice"] == "patmatch publish fb-1"


def test_a_missing_bundle_directory_falls_back(home):
    target = home / "bundles" / "fb-3"
    for root, dirs, files in os.walk(target):
        os.chmod(root, 0o700)
    shutil.rmtree(target)
    with TestClient(_app(home)) as c:
        body = c.get("/readyz").json()
        assert (body["status"], body["build_id"]) == ("fallback", "fb-2")


def test_a_bundle_corrupted_while_another_serves_is_never_swapped_in(home):
    """Serving fb-3 fine; the operator re-points at fb-2, which got corrupted meanwhile:
    fb-3 keeps serving (it verified when loaded) and readyz says why."""
    import json

    app = _app(home)
    with TestClient(app) as c:
        assert c.get("/readyz").json() == {"status": "ready", "build_id": "fb-3"}
        _damage(home, "fb-2", "patents/facets.parquet")
        pointer = home / "bundles" / "CURRENT.json"
        data = json.loads(pointer.read_text())
        pointer.write_text(json.dumps({**data, "current": "fb-2", "history": ["fb-1", "fb-3"]}))
        assert app.state.engine.refresh() is False
        body = c.get("/readyz").json()
        assert body["build_id"] == "fb-3" and body["fallback"]["published"] == "fb-2"
        assert body["fallback"]["advice"] == "patmatch rollback"
        # tried again only after a delay: a poll does not re-read the broken bundle
        assert app.state.engine.refresh() is False


def test_nothing_verifies_answers_503_with_the_rebuild_advice(home):
    for b in BUILDS:
        _damage(home, b, "patents/ids.txt")
    with TestClient(_app(home)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["code"] == "bundle.none"
        assert "patmatch build && patmatch publish" in r.json()["message"]
        assert "checksum mismatch" in r.json()["message"]
