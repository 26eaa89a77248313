"""The typed bundle manifest (issue 12): validated on read and write, frozen, records the
fusion the bundle is served with; older bundles still load with a stated default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from indexing.build.build_config import BuildConfig
from indexing.build.pipeline import build_bundle
from indexing.index.bundle import IndexBundle, Manifest
from indexing.index.manifest import BundleManifest
from matcher.config import FusionConfig, recorded_fusion, with_recorded_fusion
from patmatch.errors import BundleIntegrityError, BundleMismatchError, ConfigError

from tests.indexing._bundle_fakes import FakeEncoder, FakeLabeler, FakeTokenizer, make_records

NON_DEFAULT = {"method": "rrf", "rrf_k": 15.0, "weights": [1.0, 0.8]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pats, dems = make_records(60, 12)
    config = with_recorded_fusion(BuildConfig(fusion=NON_DEFAULT))
    return build_bundle(pats, dems, out_dir=tmp_path_factory.mktemp("m") / "m1",
                        tokenizer=FakeTokenizer(), encoder=FakeEncoder(), labeler=FakeLabeler(),
                        config=config)


def _rewrite(path: Path, change) -> None:  # noqa: ANN001
    data = json.loads((path / "manifest.json").read_text("utf-8"))
    change(data)
    (path / "manifest.json").write_text(json.dumps(data), "utf-8")


def test_the_manifest_is_typed_frozen_and_records_the_full_fusion(built: Path) -> None:
    m = Manifest.read(built)
    assert isinstance(m, BundleManifest)
    assert m.build_id == "m1" and m.created_at and m.counts["patents"] == 60
    expected = FusionConfig(method="rrf", rrf_k=15.0, weights=(1.0, 0.8))
    assert m.fusion == expected.to_dict()  # every field, not only the ones the config named
    assert recorded_fusion(IndexBundle.load(built)) == expected
    with pytest.raises(ValidationError):
        m.build_id = "other"  # type: ignore[misc]
    raw = json.loads((built / "manifest.json").read_text("utf-8"))
    assert "created_at" in raw and "created" not in raw


def test_a_loaded_bundle_ranks_with_its_recorded_fusion(built: Path) -> None:
    from matcher.ranker import HybridRanker

    ranker = HybridRanker.from_bundle(built, tokenizer=FakeTokenizer(), encoder=FakeEncoder())
    assert ranker.config == FusionConfig(method="rrf", rrf_k=15.0, weights=(1.0, 0.8))
    explicit = FusionConfig(weights=(1.0, 0.1))
    assert HybridRanker.from_bundle(built, config=explicit, tokenizer=FakeTokenizer(),
                                    encoder=FakeEncoder()).config == explicit


def test_an_old_bundle_loads_with_the_default_fusion(built: Path, tmp_path: Path) -> None:
    """Bundles from before: ``created`` instead of ``created_at``, no ``fusion``."""
    old = tmp_path / "old"
    shutil.copytree(built, old)

    def downgrade(d: dict) -> None:
        d["created"] = d.pop("created_at")
        d.pop("fusion")

    _rewrite(old, downgrade)
    b = IndexBundle.load(old)
    assert b.manifest.created_at == json.loads((built / "manifest.json").read_text())["created_at"]
    assert b.manifest.fusion is None and recorded_fusion(b) == FusionConfig()


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("build_id"), "build_id"),
    (lambda d: d.update(build_id=""), "build_id"),
    (lambda d: d.update(counts=[1, 2]), "counts"),
    (lambda d: d.update(tokenizer="jieba"), "tokenizer"),
    (lambda d: d.update(files={"a": 3}), "files"),
    (lambda d: d.update(fusion="linear"), "fusion"),
])
def test_a_malformed_manifest_is_refused_naming_the_field(built: Path, tmp_path: Path, change,  # noqa: ANN001
                                                          field: str) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(built, bad)
    _rewrite(bad, change)
    with pytest.raises(BundleIntegrityError, match=field):
        IndexBundle.load(bad)


def test_a_manifest_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("[1, 2]", "utf-8")
    with pytest.raises(BundleIntegrityError, match="format_version"):
        Manifest.read(tmp_path)
    with pytest.raises(BundleIntegrityError, match="build_id"):
        Manifest.write(tmp_path, {"format_version": 1})  # never written malformed


def test_an_unusable_recorded_fusion_is_a_config_error(built: Path, tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(built, odd)
    _rewrite(odd, lambda d: d.update(fusion={"method": "borda"}))
    with pytest.raises(ConfigError, match="rebuild"):
        recorded_fusion(IndexBundle.load(odd))
    with pytest.raises(ConfigError, match="fusion method"):
        with_recorded_fusion(BuildConfig(fusion={"method": "borda"}))
    with pytest.raises(ConfigError, match="unknown fusion"):
        with_recorded_fusion(BuildConfig(fusion={"weight": 1}))
    with pytest.raises(ConfigError, match="mapping"):
        BuildConfig(fusion="linear")  # type: ignore[arg-type]


def test_the_one_fingerprint_check(built: Path) -> None:
    m = Manifest.read(built)
    tok, enc = m.tokenizer.fingerprint, m.encoder.fingerprint
    m.check_fingerprints(tokenizer=tok, encoder=enc)
    m.check_fingerprints()  # nothing running to compare: nothing refused
    with pytest.raises(BundleMismatchError) as e:
        m.check_fingerprints(tokenizer=tok, encoder="enc-other")
    assert "enc-other" in e.value.message and str(enc) in e.value.message
    with pytest.raises(BundleMismatchError, match="tokenizer"):
        IndexBundle.load(built, tokenizer_fingerprint="tok-other")
