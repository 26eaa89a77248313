"""The one per-field embedding rule (indexing/encoders/fields.py): the build, the
studies (``encode_record_fields``) and the rule's cut and chunking agree."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from indexing.encoders.fields import encode_record_fields
from indexing.encoders.fields import FIELD_MAX_CHARS, embed_fields, field_embed_text
from indexing.training.tiny_encoder import make_tiny_encoder

VOCAB = ["锂电池", "正极", "光伏", "组件", "齿轮", "减速"]
LONG_CLAIM = "一种锂电池正极材料，" + "光伏组件齿轮减速。" * 200  # ~2,000 characters


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny", VOCAB, dim=16, seed=0)


def test_first_claim_is_cut_at_512_and_other_fields_are_whole() -> None:
    assert FIELD_MAX_CHARS == {"first_claim": 512}
    assert field_embed_text("first_claim", LONG_CLAIM) == LONG_CLAIM[:512]
    assert field_embed_text("abstract", LONG_CLAIM) == LONG_CLAIM
    assert field_embed_text("title", None) == ""


def test_studies_and_build_embed_records_the_same_way(tiny: Any) -> None:
    """``encode_record_fields`` (the studies) equals the build's call bit for bit, and a
    claim past the cap embeds as its first 512 characters."""
    from indexing.build.build_config import BuildConfig
    from indexing.build.stages import field_texts

    recs = [SimpleNamespace(id="P1", title="锂电池", abstract="正极材料", claims=LONG_CLAIM, first_claim=LONG_CLAIM),
            SimpleNamespace(id="P2", title="", abstract="", claims=None, first_claim=None)]
    cfg = BuildConfig()
    fields = field_texts("patents", recs, {}, cfg)
    assert fields["first_claim"][0] == LONG_CLAIM[:512]
    build = embed_fields(tiny, fields, cfg.patent_embed, len(recs))
    study = encode_record_fields(tiny, [r.title for r in recs], [r.abstract for r in recs],
                                 [r.first_claim or "" for r in recs])
    assert np.array_equal(build, study)
    cut = encode_record_fields(tiny, ["锂电池"], ["正极材料"], [LONG_CLAIM[:512]])
    assert np.array_equal(study[:1], cut)
    assert not study[1].any()  # an empty record stays a zero row


def test_windowed_encoder_averages_sentence_chunks(tiny: Any) -> None:
    """Rule 3: an encoder with a window gets sentence chunks, summed and renormalised."""

    class Windowed:
        dimension = tiny.dimension
        fingerprint = "windowed"
        max_chars = 12

        def encode_documents(self, texts: Any, **kw: Any) -> np.ndarray:
            assert all(len(t) <= self.max_chars for t in texts)
            return tiny.encode_documents(texts)

    text = "锂电池正极。光伏组件齿轮。减速齿轮。"
    got = embed_fields(Windowed(), {"abstract": [text, ""]}, {"abstract": 1.0}, 2)
    from indexing.encoders.fields import chunk_text

    assert chunk_text(text, 12) == ["锂电池正极。", "光伏组件齿轮。减速齿轮。"]
    chunks = tiny.encode_documents(chunk_text(text, 12))
    want = chunks.sum(axis=0)
    np.testing.assert_allclose(got[0], want / np.linalg.norm(want), atol=1e-6)
    assert not got[1].any()


def test_field_length_mismatch_is_an_input_error(tiny: Any, tmp_path: Path) -> None:
    from patmatch.errors import InputError

    with pytest.raises(InputError):
        embed_fields(tiny, {"title": ["a"]}, {"title": 1.0}, 2)
