"""ChineseTokenizer: normalisation, stopwords, offsets, fingerprint, backend agreement."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexing.training.domain_dict import domain_dictionary_entries
from indexing.text.dictionaries import read_dictionary
from indexing.text.normalization import normalize_many, normalize_text
from indexing.text.tokenizer import UNITS, ChineseTokenizer, TokenizerConfig
from patmatch.errors import ConfigError, FileFormatError

PATENT = "本发明公开了一种锂离子电池正极材料及其制备方法，烧结温度为3.5℃，厚度５ＭＭ。"
DEMAND = "我公司需要一种耐高温的万向接头，希望寻求合作开发。"


@pytest.fixture(scope="module")
def rtok() -> ChineseTokenizer:
    return ChineseTokenizer(TokenizerConfig(backend="rjieba"))


@pytest.fixture(scope="module")
def jtok() -> ChineseTokenizer:
    return ChineseTokenizer(TokenizerConfig(backend="jieba"))


def test_normalize_is_length_preserving_and_folds_width_and_case() -> None:
    s = "ＡＢＣ　１２３\tLED\n"
    out = normalize_text(s)
    assert out == "abc 123 led "
    assert len(out) == len(s)


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_normalize_never_changes_length(s: str) -> None:
    assert len(normalize_text(s)) == len(s)


def test_boilerplate_stopwords_removed(rtok: ChineseTokenizer) -> None:
    toks = rtok.tokenize(PATENT)
    for boiler in ("本发明", "一种", "公开", "所述", "发明"):
        assert boiler not in toks
    assert "正极" in toks and "电池" in toks
    dem = rtok.tokenize(DEMAND)
    for boiler in ("我公司", "公司", "需要", "希望", "我"):
        assert boiler not in dem
    assert "万向" in dem or "万向接头" in dem


def test_search_mode_emits_subwords_and_whole_word(rtok: ChineseTokenizer) -> None:
    toks = rtok.tokenize("锂离子电池")
    assert {"锂离子", "电池", "锂离子电池"} <= set(toks)


def test_numbers_keep_their_units_and_width_is_folded(rtok: ChineseTokenizer) -> None:
    toks = rtok.tokenize(PATENT)
    assert "3.5℃" in toks
    assert "5mm" in toks


def test_punctuation_and_whitespace_dropped(rtok: ChineseTokenizer) -> None:
    assert rtok.tokenize("，。！？  \n") == []
    assert rtok.tokenize("") == []


@pytest.mark.parametrize("text", [PATENT, DEMAND, "ＬＥＤ灯  具有 3.5℃\t的 温控，CO2排放量降低20%～30%。"])
def test_offsets_point_into_the_original_text(rtok: ChineseTokenizer, text: str) -> None:
    spans = rtok.tokenize_with_offsets(text)
    assert [t for t, _, _ in spans] == rtok.tokenize(text)
    for term, start, end in spans:
        assert normalize_text(text[start:end]) == term


@given(st.text(alphabet=st.sampled_from(list("锂电池正极材料ＡＢab12. ，。℃mm我公司需要光伏组件")), max_size=40))
@settings(max_examples=150, deadline=None)
def test_offsets_property(text: str) -> None:
    tok = ChineseTokenizer(TokenizerConfig(backend="rjieba"))
    spans = tok.tokenize_with_offsets(text)
    assert [t for t, _, _ in spans] == tok.tokenize(text)
    for term, start, end in spans:
        assert 0 <= start < end <= len(text)
        assert normalize_text(text[start:end]) == term


def test_domain_dictionary_changes_segmentation() -> None:
    with_dict = ChineseTokenizer(TokenizerConfig(search=False))
    without = ChineseTokenizer(TokenizerConfig(search=False, domain_dict=False))
    text = "万向接头"
    assert with_dict.tokenize(text) == ["万向接头"]
    assert without.tokenize(text) == ["万向", "接头"]
    assert with_dict.fingerprint != without.fingerprint


def test_user_dictionary(tmp_path: Path) -> None:
    ud = tmp_path / "user.txt"
    ud.write_text("柔性钙钛矿叠层 100 n\n# comment\n钠电正极\n", encoding="utf-8")
    assert read_dictionary(ud) == [("柔性钙钛矿叠层", 100), ("钠电正极", None)]
    tok = ChineseTokenizer(TokenizerConfig(user_dict=str(ud), search=False))
    assert "柔性钙钛矿叠层" in tok.tokenize("一种柔性钙钛矿叠层电池")
    base = ChineseTokenizer(TokenizerConfig(search=False))
    assert tok.fingerprint != base.fingerprint
    # the fingerprint follows the file's content, not its path
    ud2 = tmp_path / "copy.txt"
    ud2.write_bytes(ud.read_bytes())
    assert ChineseTokenizer(TokenizerConfig(user_dict=str(ud2), search=False)).fingerprint == tok.fingerprint


def test_bad_user_dictionary_says_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("词语 12x\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="integer freq"):
        read_dictionary(bad)
    with pytest.raises(ConfigError, match="not found"):
        ChineseTokenizer(TokenizerConfig(user_dict=str(tmp_path / "missing.txt")))


def test_config_validation_and_roundtrip() -> None:
    cfg = TokenizerConfig(backend="jieba", mode="chars")
    assert TokenizerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="backend"):
        TokenizerConfig(backend="thulac")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown tokenizer config keys"):
        TokenizerConfig.from_dict({"backend": "jieba", "lowercase": True})


def test_fingerprint_is_stable_and_config_sensitive() -> None:
    a = ChineseTokenizer(TokenizerConfig())
    assert a.fingerprint == ChineseTokenizer(TokenizerConfig()).fingerprint
    others = {
        ChineseTokenizer(TokenizerConfig(backend="jieba")).fingerprint,
        ChineseTokenizer(TokenizerConfig(mode="chars")).fingerprint,
        ChineseTokenizer(TokenizerConfig(stopwords=False)).fingerprint,
    }
    assert a.fingerprint not in others and len(others) == 3


def test_chars_mode(rtok: ChineseTokenizer) -> None:
    tok = ChineseTokenizer(TokenizerConfig(mode="chars"))
    toks = tok.tokenize("锂电池LED 3.5mm")
    assert toks == ["锂", "电", "池", "led", "3.5mm"]
    for term, s, e in tok.tokenize_with_offsets("锂电池LED 3.5mm"):
        assert normalize_text("锂电池LED 3.5mm"[s:e]) == term


def test_private_dictionary_does_not_touch_global_jieba() -> None:
    import jieba

    ChineseTokenizer(TokenizerConfig(backend="jieba", search=False)).tokenize("万向接头")
    assert "万向接头" not in jieba.dt.FREQ or jieba.dt.FREQ.get("万向接头") == 0


def test_domain_entries_filter_fragments() -> None:
    entries = dict(domain_dictionary_entries(["一个带", "三个侧面", "万向接头", "电池", "锂离子电池", "由组成"]))
    assert "万向接头" in entries and entries["万向接头"] > 0
    assert "一个带" not in entries and "三个侧面" not in entries
    assert "电池" not in entries  # already a jieba word: nothing to add


@given(st.lists(st.text(max_size=40), min_size=256, max_size=300))
@settings(max_examples=20, deadline=None)
def test_batch_normalize_equals_one_at_a_time(texts: list[str]) -> None:
    # >= 256 texts: the batch (polars) path, not the per-text fallback
    assert normalize_many(texts) == [normalize_text(t) for t in texts]


def test_batch_tokenize_equals_one_at_a_time(shared_data: Path, rtok: ChineseTokenizer) -> None:
    """tokenize_many takes fast paths (batch normalisation, cached token classes); the
    terms must be exactly those of tokenize, on real abstracts and on the hard cases."""
    path = shared_data / "kppatent_zh" / "kppatent_zh_joined.jsonl"
    texts = [json.loads(line)["abstract"] for _, line in zip(range(400), path.open(encoding="utf-8"))]
    texts += [PATENT, DEMAND, "", "  ", "2-8mm的Ｍ３-５螺栓，温度-40℃~85℃，3.5 mm", "ＬＥＤ灯珠5W"]
    fresh = ChineseTokenizer(TokenizerConfig(backend="rjieba"))  # an empty token cache
    assert fresh.tokenize_many(texts) == [rtok.tokenize(t) for t in texts]
    # and the fast path (no unit, no hyphen) keeps exactly the classified raw tokens
    slow = ChineseTokenizer(TokenizerConfig(backend="rjieba"))
    for t in texts[:100]:
        raws = slow.backend.cut(normalize_text(t))
        want = [c for c in map(slow._classify, raws) if c is not None]
        assert rtok.tokenize(t) == want or "-" in t or any(r in UNITS for r in raws)


def test_backends_agree_on_samples(rtok: ChineseTokenizer, jtok: ChineseTokenizer) -> None:
    for text in (PATENT, DEMAND, "光伏组件支架采用高桩结构，适用于鱼塘水面。"):
        assert rtok.tokenize(text) == jtok.tokenize(text)
        assert rtok.tokenize_with_offsets(text) == jtok.tokenize_with_offsets(text)


def test_backends_agree_on_real_corpus(shared_data: Path, rtok: ChineseTokenizer, jtok: ChineseTokenizer) -> None:
    """jieba is the reference; rjieba must give >= 99% identical tokens on real abstracts."""
    path = shared_data / "kppatent_zh" / "kppatent_zh_joined.jsonl"
    texts = [json.loads(line)["abstract"] for _, line in zip(range(300), path.open(encoding="utf-8"))]
    total = agree = 0
    for text in texts:
        a, b = Counter(jtok.tokenize(text)), Counter(rtok.tokenize(text))
        total += sum(a.values())
        agree += sum((a & b).values())
    assert agree / total >= 0.99


def test_tokenizer_pickles_for_worker_processes(rtok: ChineseTokenizer) -> None:
    import pickle

    clone = pickle.loads(pickle.dumps(rtok))
    assert clone.fingerprint == rtok.fingerprint
    assert clone.tokenize(PATENT) == rtok.tokenize(PATENT)
