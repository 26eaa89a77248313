"""100,000 characters through every text path finish in bounded time (issue 13 finding 1).

Before the fix WordPiece was cubic in the length of one unpunctuated run: 8,000 CJK
characters took ~17 s and a worker died. The timeouts are generous on purpose (a busy
2-core machine); a cubic path would need hours for 100,000 characters.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

LONG_CJK = "电池" * 50_000  # 100,000 characters, no punctuation, one pre-token before the fix
LONG_LATIN = "a" * 100_000
LONG_MIXED = ("低温锂电池电解液" * 2_000 + "x7" * 20_000 + "光伏组件清洗机器人" * 2_000)[:100_000]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("text", [LONG_CJK, LONG_LATIN, LONG_MIXED], ids=["cjk", "latin", "mixed"])
def test_query_path_with_explanations(ranker: Any, text: str) -> None:
    t0 = time.perf_counter()
    out = ranker.match_text(text, limit=5)
    assert out.total >= 0 and len(out.items) <= 5
    assert time.perf_counter() - t0 < 60


@pytest.mark.timeout(120)
def test_encoder_tokenization_is_linear(tiny_encoder: Any) -> None:
    from indexing.encoders.encoder import MAX_WORD_CHARS

    tok = tiny_encoder.model[0].tokenizer
    pieces = tok.pre_tokenizer.pre_tokenize_str(LONG_CJK)
    assert len(pieces) == len(LONG_CJK) // MAX_WORD_CHARS + 1  # every pre-token is bounded
    assert max(len(p) for p, _ in pieces) <= MAX_WORD_CHARS
    # the work done: every character still reaches a token (nothing silently dropped)
    ids = tok.encode(LONG_CJK, add_special_tokens=False).ids
    assert len(ids) >= len(LONG_CJK) // 14
    vec = tiny_encoder.encode_queries([LONG_CJK])
    assert vec.shape == (1, tiny_encoder.dimension) and abs(float((vec ** 2).sum()) - 1) < 1e-4


@pytest.mark.timeout(120)
def test_build_path_encodes_and_tokenizes_long_records(tiny_encoder: Any, tokenizer: Any) -> None:
    from indexing.encoders.fields import encode_record_fields
    from indexing.encoders.static_encode import fast_encoder

    enc = fast_encoder(tiny_encoder)
    vecs = encode_record_fields(enc, [LONG_MIXED, "短标题"], [LONG_CJK, "摘要"], [LONG_LATIN, None])
    assert vecs.shape == (2, tiny_encoder.dimension)
    assert len(tokenizer.tokenize(LONG_MIXED)) > 1_000


def test_ordinary_text_keeps_its_tokens(tiny_encoder: Any) -> None:
    """The bound only cuts runs longer than MAX_WORD_CHARS: punctuated text is unchanged."""
    from tokenizers import Tokenizer

    tok = tiny_encoder.model[0].tokenizer
    text = "本发明公开了一种低温锂电池电解液，提高了放电性能。ABC-123 光伏组件"
    assert tok.encode(text, add_special_tokens=False).ids == \
        Tokenizer.from_file(str(tiny_encoder.path / "tokenizer.json")).encode(text, add_special_tokens=False).ids


def test_batch_progress_moves_and_a_raising_callback_stops_it(
        tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any, tmp_path: Any) -> None:
    from matcher.batch import run_batch
    from matcher.jobplan import job_dir_for
    from matcher.queries import queries_from_records
    from indexing.records import DemandRecord

    recs = [DemandRecord(id=f"Q{i}", text=("锂电池低温放电" * 2_000) if i == 0 else f"光伏支架{i}")
            for i in range(9)]
    q = queries_from_records(recs)
    seen: list[tuple[int, int]] = []

    class Stop(Exception):
        pass

    def on_block(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 3:
            raise Stop

    out = tmp_path / "m.csv"
    with pytest.raises(Stop):
        run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=3, block_size=3,
                  progress=False, on_block=on_block)
    assert seen == [(0, 9), (3, 9), (6, 9)] and not out.exists()
    assert job_dir_for(out).exists()  # the checkpoint stays for --resume
    rep = run_batch(tiny_bundle, tokenizer, tiny_encoder, q, out=out, top_k=3, block_size=3,
                    progress=False, resume=True, on_block=lambda d, t: seen.append((d, t)))
    assert rep.resumed_blocks == 2 and seen[3:] == [(6, 9), (9, 9)]
