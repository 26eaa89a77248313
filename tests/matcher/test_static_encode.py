"""The one static-encode path (indexing/encoders/static_encode.py): equal to
sentence-transformers to float32 rounding, and bit-identical between the build
(``FastStaticEncoder``) and the ranker (``static_encode_for``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from indexing.encoders.static_encode import (
    FastStaticEncoder,
    StaticEncode,
    fast_encoder,
    static_encode_for,
)

TEXTS = ["锂电池低温放电", "", "光伏组件清洗机器人，提高发电效率", "abc 5g 模组", "未知词汇"]


def test_static_encode_equals_sentence_transformers(tiny_encoder: Any) -> None:
    docs, queries = static_encode_for(tiny_encoder), static_encode_for(tiny_encoder, queries=True)
    assert isinstance(docs, StaticEncode) and isinstance(queries, StaticEncode)
    want = tiny_encoder.encode_documents(TEXTS)
    got = docs(TEXTS)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)
    for t in TEXTS:  # the single-text path (queries) and the batch path agree
        np.testing.assert_allclose(queries([t]), tiny_encoder.encode_queries([t]), atol=1e-6)
    big = TEXTS * (StaticEncode.BATCH_MIN // len(TEXTS) + 1)  # the thread-pool batch path
    np.testing.assert_allclose(docs(big), tiny_encoder.encode_documents(big), atol=1e-6)
    assert docs([]).shape == (0, tiny_encoder.dimension)


def test_static_encode_refuses_other_encoders() -> None:
    class NotStatic:
        dimension = 4
        model = None

    assert static_encode_for(NotStatic()) is None
    assert static_encode_for(object()) is None


def test_build_and_ranker_vectors_are_bit_identical(tiny_bundle: Any, tokenizer: Any,
                                                   tiny_encoder: Any) -> None:
    """One path: the build's encoder and the ranker's encoders run the same StaticEncode,
    so the same text gives the same bits on both sides, whatever the batch split."""
    from matcher.config import FusionConfig
    from matcher.ranker import HybridRanker

    build = fast_encoder(tiny_encoder)
    assert isinstance(build, FastStaticEncoder) and isinstance(build.encode, StaticEncode)
    ranker = HybridRanker(tiny_bundle, tokenizer, tiny_encoder, FusionConfig(candidates=20, depth=30))
    assert type(ranker._encode_docs) is StaticEncode and type(ranker._encode_query) is StaticEncode
    big = TEXTS * 80
    got = build.encode_documents(big)
    assert np.array_equal(got, ranker._encode_docs(big))
    small = StaticEncode(build.encode._tok, build.encode._w)
    small.BLOCK = 7  # blocks of 7 texts: the rows do not change by one bit
    assert np.array_equal(small(big), got)


def _sequential_reference(enc: StaticEncode, texts: list[str]) -> np.ndarray:
    """The documented math: each text's token rows added one by one in token order
    (float32), then L2-normalised."""
    out = np.zeros((len(texts), enc.dimension), dtype=np.float32)
    for r, t in enumerate(texts):
        for i in enc._tok.encode(t, add_special_tokens=False).ids:
            out[r] += enc._w[i]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def test_batch_vectors_are_the_sequential_sum_bit_for_bit(tiny_encoder: Any) -> None:
    enc = static_encode_for(tiny_encoder)
    assert enc is not None
    for texts in (TEXTS, TEXTS * 80):  # per-text tokenizing and the batch tokenizer
        assert np.array_equal(enc(texts), _sequential_reference(enc, texts))
    one = enc(["锂电池低温放电"])  # the single query: numpy's row sum, as before
    ids = enc._tok.encode("锂电池低温放电", add_special_tokens=False).ids
    want = enc._w[np.asarray(ids)].sum(axis=0)
    assert np.array_equal(one[0], want / np.linalg.norm(want))
