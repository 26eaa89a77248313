"""EmbeddingCache: only misses are encoded; shards are atomic; fingerprints separate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexing.encoders.embed_cache import EmbeddingCache
from indexing.encoders.encoder import TextEncoder
from indexing.training.tiny_encoder import make_tiny_encoder
from patmatch.errors import InputError


class CountingEncoder:
    """Wraps an encoder and records what it was asked to encode."""

    def __init__(self, inner: TextEncoder, fingerprint: str | None = None) -> None:
        self.inner = inner
        self.dimension = inner.dimension
        self.fingerprint = fingerprint or inner.fingerprint
        self.calls: list[list[str]] = []

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 256, show_progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(["Q:" + t for t in texts])
        return self.inner.encode_queries(texts)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    return make_tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny", ["电池", "光伏", "齿轮"], dim=16)


def test_encodes_only_misses_and_matches_direct_encoding(tmp_path: Path, tiny: TextEncoder) -> None:
    enc = CountingEncoder(tiny)
    cache = EmbeddingCache(tmp_path / "c")
    texts = ["电池", "光伏", "电池", "齿轮"]
    v1 = cache.encode(enc, texts)
    assert enc.calls == [["电池", "光伏", "齿轮"]]  # duplicates encoded once
    assert np.array_equal(v1, tiny.encode_documents(texts))
    assert cache.last_stats.encoded == 3 and cache.last_stats.hits == 0
    v2 = cache.encode(enc, ["齿轮", "新的文本", "电池"])
    assert enc.calls[-1] == ["新的文本"]
    assert cache.last_stats.hits == 2 and cache.last_stats.encoded == 1
    assert np.array_equal(v2[0], v1[3])


def test_persists_across_instances_and_processes_see_appends(tmp_path: Path, tiny: TextEncoder) -> None:
    a = EmbeddingCache(tmp_path / "c")
    b = EmbeddingCache(tmp_path / "c")
    enc = CountingEncoder(tiny)
    a.encode(enc, ["电池"])
    b.encode(enc, ["电池", "光伏"])  # b reads a's shard on demand
    assert enc.calls == [["电池"], ["光伏"]]
    fresh = CountingEncoder(tiny)
    EmbeddingCache(tmp_path / "c").encode(fresh, ["光伏", "电池"])
    assert fresh.calls == []


def test_fingerprint_and_kind_separate_entries(tmp_path: Path, tiny: TextEncoder) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    one, two = CountingEncoder(tiny, "fp-one"), CountingEncoder(tiny, "fp/two")
    cache.encode(one, ["电池"])
    cache.encode(two, ["电池"])
    assert two.calls == [["电池"]]
    cache.encode(one, ["电池"], kind="queries")
    assert one.calls[-1] == ["Q:电池"]
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"fp-one", "fp_two", "fp-one-queries"}


def test_text_identity_is_exact(tmp_path: Path, tiny: TextEncoder) -> None:
    enc = CountingEncoder(tiny)
    cache = EmbeddingCache(tmp_path / "c")
    cache.encode(enc, ["电池"])
    cache.encode(enc, ["电池 ", "電池"])
    assert enc.calls[-1] == ["电池 ", "電池"]


def test_flush_in_chunks_and_compact(tmp_path: Path, tiny: TextEncoder) -> None:
    cache = EmbeddingCache(tmp_path / "c", flush_every=2)
    enc = CountingEncoder(tiny)
    texts = [f"文本{i}" for i in range(5)]
    v = cache.encode(enc, texts)
    shards = list((tmp_path / "c" / tiny.fingerprint).glob("shard-*.npz"))
    assert len(shards) == 3
    assert cache.compact(enc) == 5
    assert len(list((tmp_path / "c" / tiny.fingerprint).glob("shard-*.npz"))) == 1
    again = CountingEncoder(tiny)
    assert np.array_equal(EmbeddingCache(tmp_path / "c").encode(again, texts), v)
    assert again.calls == []
    assert not list((tmp_path / "c" / tiny.fingerprint).glob(".tmp-*"))


def test_failed_encoding_leaves_no_partial_shard(tmp_path: Path, tiny: TextEncoder) -> None:
    class Boom(CountingEncoder):
        def encode_documents(self, texts, *, batch_size=256, show_progress=False):  # type: ignore[override]
            raise RuntimeError("boom")

    cache = EmbeddingCache(tmp_path / "c")
    with pytest.raises(RuntimeError):
        cache.encode(Boom(tiny), ["电池"])
    d = tmp_path / "c" / tiny.fingerprint
    assert not d.exists() or not any(d.iterdir())


def test_input_validation(tmp_path: Path, tiny: TextEncoder) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    with pytest.raises(InputError, match="single str"):
        cache.encode(tiny, "电池")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="kind"):
        cache.encode(tiny, ["电池"], kind="both")  # type: ignore[arg-type]
    assert cache.encode(tiny, []).shape == (0, 16)
