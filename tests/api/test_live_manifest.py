"""The real engine serves a bundle the way it was built (issue 12): the fusion recorded at
build time ranks unless a request overrides it; /v1/index reports the manifest's own
creation time and fingerprints; the HTTP publish runs the gate on the build config's
judged set, exactly as `patmatch publish` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings

from tests.api.conftest import DEMANDS, PATENTS, hdr

RECORDED = {"method": "rrf", "rrf_k": 5.0, "weights": [1.0, 0.5]}
QUERY = "锂离子电池低温放电性能差，冬季续航衰减"


def _build(settings: Settings, build_id: str, enc_dir: Path, fusion: dict | None) -> Path:
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.config import with_recorded_fusion

    chains = {p.id: list(c) for p, c in PATENTS}
    labels = {"patents": {p.id: {"chains": chains[p.id]} for p, _ in PATENTS},
              "demands": {d.id: {"chains": ["nev"]} for d in DEMANDS}}
    config = with_recorded_fusion(BuildConfig(fusion=fusion))
    return build_bundle([p for p, _ in PATENTS], DEMANDS, out_dir=settings.staging_dir / build_id,
                        tokenizer=ChineseTokenizer(),
                        encoder=load_encoder(EncoderConfig(name=str(enc_dir)), settings),
                        encoder_config={"name": str(enc_dir)}, build_id=build_id,
                        labels=labels, config=config)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from indexing.training.tiny_encoder import make_tiny_encoder

    path = tmp_path_factory.mktemp("enc") / "tiny"
    make_tiny_encoder(path, ["电池", "低温", "散热", "电机", "光伏", "充电"], dim=16, seed=0)
    return path


@pytest.fixture()
def operator(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _client(settings: Settings):  # noqa: ANN202
    from api.main import create_app

    app = create_app(settings, reload_interval=0)
    return app, TestClient(app)


def test_a_served_bundle_ranks_with_its_recorded_fusion(operator: Settings, encoder_dir: Path) -> None:
    from indexing.build.publish import publish
    from indexing.index.bundle import Manifest
    from matcher.config import FusionConfig
    from matcher.ranker import HybridRanker

    path = _build(operator, "fz-1", encoder_dir, RECORDED)
    publish(operator, "fz-1")
    manifest = Manifest.read(operator.bundles_dir / "fz-1")
    app, client = _client(operator)
    with client:
        key = app.state.keys.create("op", "operator")[0]
        served = app.state.engine.snapshot()
        recorded = FusionConfig.from_dict(RECORDED)
        assert served.ranker.config == recorded

        def scores(fusion: dict | None = None) -> list[float]:
            body = {"text": QUERY, "top_k": 5} | ({"fusion": fusion} if fusion else {})
            r = client.post("/v1/match", json=body, headers=hdr(key))
            assert r.status_code == 200, r.text
            return [round(m["score"], 6) for m in r.json()["items"]]

        def expected(fusion: FusionConfig) -> list[float]:
            ranker = HybridRanker(served.bundle, served.ranker.tokenizer, served.ranker.encoder, fusion)
            return [round(m.score, 6) for m in ranker.match_text(QUERY, limit=5).items]

        assert scores() == expected(recorded) != expected(FusionConfig())
        # a request's override applies on top of the recorded fusion, not of the code default
        assert scores({"rrf_k": 50}) == expected(FusionConfig.from_dict({**RECORDED, "rrf_k": 50}))

        info = client.get("/v1/index", headers=hdr(key)).json()
        assert info["created_at"] == manifest.created_at and info["created_at"]
        assert info["fingerprints"] == {"tokenizer": manifest.tokenizer.fingerprint,
                                        "encoder": manifest.encoder.fingerprint}
        assert info["fingerprints"]["encoder"] == served.ranker.encoder.fingerprint
        assert info["fingerprints"]["tokenizer"] == served.ranker.tokenizer.fingerprint
        assert info["counts"]["patents"] == len(PATENTS)
    assert path.parent == operator.staging_dir


def test_a_bundle_without_a_recorded_fusion_is_served_with_the_default(operator: Settings,
                                                                       encoder_dir: Path) -> None:
    import json

    from indexing.build.publish import publish
    from matcher.config import FusionConfig

    path = _build(operator, "old-1", encoder_dir, None)
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    manifest.pop("fusion")  # as bundles built before the fusion was recorded
    manifest["created"] = manifest.pop("created_at")
    (path / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    publish(operator, "old-1")
    app, client = _client(operator)
    with client:
        assert app.state.engine.snapshot().ranker.config == FusionConfig()
        key = app.state.keys.create("op", "operator")[0]
        info = client.get("/v1/index", headers=hdr(key)).json()
        assert info["created_at"] == manifest["created"]


def _judged(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("demand_id\tpatent_id\tgrade\nD-A-PUB\tP-NEV-1\t2\nD-A-CONF\tP-BAT-1\t1\n",
                    "utf-8")
    return path


@pytest.mark.parametrize("how", ["settings", "engine"])
def test_the_http_publish_gates_on_the_build_configs_judged_set(tmp_path: Path, encoder_dir: Path,
                                                                how: str) -> None:
    """PATMATCH_BUILD_CONFIG (or a config given to the engine) names a judged set outside
    the home: the HTTP publish evaluates on it, through the one gate factory."""
    from indexing.build.build_config import BuildConfig
    from indexing.index.bundle import Manifest

    from api.live import LiveEngine
    from api.main import create_app

    judged = _judged(tmp_path / "elsewhere" / "judged.tsv")
    config_file = tmp_path / "build.yaml"
    config_file.write_text(f"judged_path: {judged}\n", "utf-8")
    if how == "settings":
        settings = Settings(home=tmp_path / "home", build_config=config_file)
        engine = None
    else:
        settings = Settings(home=tmp_path / "home")
        engine = LiveEngine(settings, BuildConfig(judged_path=str(judged)))
    assert not (settings.home / "judged" / "qrels.tsv").exists()
    _build(settings, "g-1", encoder_dir, None)
    app = create_app(settings, engine=engine, reload_interval=0)
    with TestClient(app) as client:
        key = app.state.keys.create("op", "operator")[0]
        r = client.post("/v1/admin/publish", json={"build_id": "g-1"}, headers=hdr(key))
        assert r.status_code == 200, r.text
    quality = Manifest.read(settings.bundles_dir / "g-1").quality
    assert quality["gate"] == "passed" and "ndcg@10" in quality  # evaluated, not skipped


def test_without_a_judged_set_the_http_publish_skips_the_gate(operator: Settings,
                                                              encoder_dir: Path) -> None:
    """The control of the test above: the same publish with no judged set anywhere."""
    from indexing.index.bundle import Manifest

    _build(operator, "s-1", encoder_dir, None)
    app, client = _client(operator)
    with client:
        key = app.state.keys.create("op", "operator")[0]
        assert client.post("/v1/admin/publish", json={"build_id": "s-1"},
                           headers=hdr(key)).status_code == 200
    assert Manifest.read(operator.bundles_dir / "s-1").quality["gate"] == "skipped"
