"""Colloquial abbreviations (issue 20): the character rule, the query spans, the learned
and the seed pairs, on synthetic vocabularies."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.text.abbreviations import (AbbreviationIndex, is_abbreviation_of, query_spans,
                                         read_seed)
from patmatch.errors import FileFormatError

VOCAB = [("钠离子电池", 12), ("正极材料", 40), ("正极浆料", 5), ("新能源汽车", 9), ("风力发电", 7),
         ("模块化", 30), ("规模化", 25), ("电池", 300), ("正极", 200), ("钠离子", 14),
         ("离子电池", 60), ("钠基电解质", 2), ("电机", 50), ("电动机", 20)]


def _spans(*tokens: str, gap_after: tuple[int, ...] = ()) -> list[tuple[str, int, int]]:
    out, pos = [], 0
    for i, t in enumerate(tokens):
        out.append((t, pos, pos + len(t)))
        pos += len(t) + (1 if i in gap_after else 0)
    return out


@pytest.mark.parametrize("short, full", [("钠电", "钠离子电池"), ("正极料", "正极材料"),
                                         ("新能源车", "新能源汽车"), ("风电", "风力发电"),
                                         ("锂电", "锂离子电池"), ("碳纤", "碳纤维")])
def test_rule_accepts_real_abbreviations(short: str, full: str) -> None:
    assert is_abbreviation_of(short, full)


@pytest.mark.parametrize("short, full", [
    ("电钠", "钠离子电池"),      # first character differs
    ("钠离", "钠离子电池"),      # its last character is not in the full term's end
    ("钠电", "钠电"),            # not longer
    ("钠电", "钠离子电池组装置"),  # too long for a two-character short form
    ("正料极", "正极材料"),      # order broken
    ("风", "风力发电"),          # one character is no abbreviation
])
def test_rule_refuses(short: str, full: str) -> None:
    assert not is_abbreviation_of(short, full)


def test_spans_are_runs_of_whole_tokens() -> None:
    # search mode yields 规模 inside 规模化: only the whole token counts
    toks = [("钠", 0, 1), ("电", 1, 2), ("正极", 2, 4), ("料", 4, 5), ("规模", 6, 8),
            ("规模化", 6, 9)]
    got = {t: (single, cuts) for t, _, _, single, cuts in query_spans(toks)}
    assert got["钠电"] == (True, (1,)) and got["正极料"] == (True, (2,))
    assert got["钠电正极"] == (True, (1, 2)) and got["规模化"] == (False, ())
    assert "料规模化" not in got  # a gap (的, a stopword) ends the run
    assert "模化" not in got and "规模" not in got
    assert all(len(t) <= 4 for t in got)


def test_learned_pairs() -> None:
    idx = AbbreviationIndex(VOCAB, seed={})
    assert idx.learned("钠电") == ["钠离子电池"]
    assert idx.learned("正极料") == ["正极材料"]  # 正极浆料 is too rare beside it
    assert idx.learned("新能源车") == ["新能源汽车"]
    assert idx.learned("电机") == []  # a word of the corpus means itself
    exps = idx.expand(_spans("钠", "电", "正极", "料", gap_after=(3,)) + [("规模化", 6, 9)])
    assert [(e.short, e.full, e.source) for e in exps] == [("钠电", "钠离子电池", "corpus"),
                                                           ("正极料", "正极材料", "corpus")]
    assert (exps[0].start, exps[0].end) == (0, 2)


def test_only_spans_the_tokenizer_did_not_understand() -> None:
    idx = AbbreviationIndex(VOCAB + [("工业机器人", 40)], seed={"钠电": ("钠离子电池",)})
    # two known words side by side are no short form, even if some term contains them
    assert idx.expand(_spans("正极", "材料")) == []
    # a whole word the tokenizer knows is none either, even where the corpus lacks it
    # (工人 is not 工业机器人); the seed table still names its own short forms
    assert idx.expand(_spans("工人")) == []
    assert [e.full for e in idx.expand(_spans("钠电"))] == ["钠离子电池"]
    assert AbbreviationIndex(VOCAB, seed={}).expand(_spans("钠电")) == []


def test_characters_the_corpus_writes_together_are_no_abbreviation() -> None:
    """弹性体 makes 性体 a plain bigram of the corpus: 性|体 is not a short form of 性气体,
    while 钠|电 (never side by side in patents) still is one of 钠离子电池."""
    vocab = VOCAB + [("性气体", 9)]
    pairs = {"性体": 31, "钠电": 0}
    plain = AbbreviationIndex(vocab, seed={})
    checked = AbbreviationIndex(vocab, seed={}, pair_df=lambda b: pairs.get(b, 0))
    assert [e.full for e in plain.expand(_spans("性", "体"))] == ["性气体"]  # the rule alone
    assert checked.expand(_spans("性", "体")) == []
    assert [e.full for e in checked.expand(_spans("钠", "电"))] == ["钠离子电池"]


def test_seed_pairs_need_the_full_term_in_the_corpus() -> None:
    seed = {"电芯": ("电池单体",), "钠电": ("钠离子电池",), "pcb": ("印制电路板",)}
    idx = AbbreviationIndex(VOCAB + [("电池单体", 3), ("pcb", 1)], seed=seed)
    got = [(e.short, e.full, e.source) for e in idx.expand(_spans("电芯", "pcb", "钠电"))]
    assert got == [("电芯", "电池单体", "seed"), ("钠电", "钠离子电池", "seed")]
    assert AbbreviationIndex(VOCAB, seed=seed, learn=False).learned("正极料") == []
    assert AbbreviationIndex([], seed=seed).expand(_spans("电芯")) == []


def test_real_tokenizer_spans() -> None:
    from indexing.text.tokenizer import ChineseTokenizer

    tok = ChineseTokenizer()
    idx = AbbreviationIndex(VOCAB, seed={})
    fulls = [e.full for e in idx.expand(tok.tokenize_with_offsets("寻求钠电正极料的规模化制备技术"))]
    assert "钠离子电池" in fulls and "正极材料" in fulls
    assert "模块化" not in fulls


def test_vendored_seed_table(tmp_path: Path) -> None:
    seed = read_seed()
    assert seed["钠电"] == ("钠离子电池",) and "锂离子电池" in seed["锂电"]
    assert all(s and fs for s, fs in seed.items())
    bad = tmp_path / "bad.tsv"
    bad.write_text("# comment\n钠电\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="short<TAB>full"):
        read_seed(bad)
    assert read_seed(tmp_path / "missing.tsv") == {}
