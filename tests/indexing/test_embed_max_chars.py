"""``BuildConfig.embed_max_chars``: the per-field embedding cut is part of the build's
configuration: validated, recorded in the manifest, used by the build, and part of what
the embedding cache keys (a changed cut never reuses the old cut's vectors)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexing.build.build_config import BuildConfig
from indexing.build.pipeline import build_bundle
from indexing.encoders.embed_cache import EmbeddingCache
from indexing.encoders.fields import FIELD_MAX_CHARS
from indexing.index.bundle import IndexBundle
from patmatch.errors import ConfigError
from tests.indexing._bundle_fakes import FakeEncoder, FakeTokenizer, make_records

# a first claim of ~1,000 characters whose words change after character 100 and 600
LONG_CLAIM = ("1. 一种 锂 电池 正极 材料，" + "包括 光伏 组件。" * 10 + "所述 神经网络 图像 识别。" * 40
              + "其中 抗体 药物 基因 检测。" * 40 + "\n2. 根据权利要求1")


def _build(tmp: Path, name: str, config: BuildConfig, cache: EmbeddingCache | None = None,
           ) -> IndexBundle:
    pats, dems = make_records(12, 3)
    pats[0] = replace(pats[0], claims=LONG_CLAIM)
    out = build_bundle(pats, dems, out_dir=tmp / name, tokenizer=FakeTokenizer(),
                       encoder=FakeEncoder(), config=config, cache=cache)
    return IndexBundle.load(out)


def _vector(bundle: IndexBundle, row_id: str) -> np.ndarray:
    return np.asarray(bundle.patents.vectors)[bundle.patents.row_of(row_id)]


def test_the_cut_is_recorded_and_changing_it_changes_a_long_first_claim(tmp_path: Path) -> None:
    assert len(LONG_CLAIM.split("2.", 1)[0].strip()) > 900
    default = _build(tmp_path, "default", BuildConfig())
    assert BuildConfig().embed_max_chars == {"first_claim": 512} == dict(FIELD_MAX_CHARS)
    assert default.manifest.config["embed_max_chars"] == {"first_claim": 512}
    short = _build(tmp_path, "short", BuildConfig(embed_max_chars={"first_claim": 100}))
    assert short.manifest.config["embed_max_chars"] == {"first_claim": 100}
    long_id = default.patents.ids[0]
    assert not np.allclose(_vector(default, long_id), _vector(short, long_id))
    # records whose first claim is shorter than both cuts embed exactly as before
    for rid in default.patents.ids[1:]:
        np.testing.assert_array_equal(_vector(default, rid), _vector(short, rid))
    # and the manifest's config reads back as the same BuildConfig
    assert BuildConfig.from_dict(short.manifest.config).embed_max_chars == {"first_claim": 100}


def test_the_embedding_cache_never_serves_the_old_cut(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    _build(tmp_path, "warm", BuildConfig(), cache=cache)
    warm = cache.size(FakeEncoder())
    cfg = BuildConfig(embed_max_chars={"first_claim": 100})
    cached = _build(tmp_path, "cached", cfg, cache=cache)
    fresh = _build(tmp_path, "fresh", cfg)
    np.testing.assert_array_equal(np.asarray(cached.patents.vectors),
                                  np.asarray(fresh.patents.vectors))
    assert cache.size(FakeEncoder()) == warm + 1  # only the new cut of the long claim


def test_a_manifest_without_the_key_loads_with_the_default() -> None:
    old = BuildConfig().to_dict()
    del old["embed_max_chars"]  # a bundle built before the cut was recorded
    assert BuildConfig.from_dict(old).embed_max_chars == {"first_claim": 512}


@pytest.mark.parametrize("bad, said", [
    ({"first_claim": 0}, "bad value"),
    ({"first_claim": -5}, "bad value"),
    ({"first_claim": "512"}, "bad value"),
    ({"first_claim": 51.2}, "bad value"),
    ({"first_claim": True}, "bad value"),
    ({"frist_claim": 512}, "unknown field"),
    ([512], "got list"),
    ("first_claim=512", "got str"),
])
def test_garbage_caps_are_a_config_error_saying_what_was_expected(bad: object, said: str) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of field name") as info:
        BuildConfig.from_dict({"embed_max_chars": bad})
    assert said in info.value.message


def test_a_cap_on_another_field_and_on_the_demand_side_is_accepted() -> None:
    cfg = BuildConfig.from_dict({"embed_max_chars": {"first_claim": 256, "text": 2000}})
    assert cfg.embed_max_chars == {"first_claim": 256, "text": 2000}
    assert BuildConfig.from_dict(cfg.to_dict()) == cfg
