"""The bigram study's tokenizer on hand cases, and the one-index wiring it recommends."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bigram_study import choose
from benchmarks.bigram_systems import BigramTokenizer, bigrams
from indexing.text.ngrams import BIGRAM_PREFIX
from indexing.text.dictionaries import load_stopwords
from indexing.text.normalization import normalize_text


@pytest.fixture(scope="module")
def tok() -> BigramTokenizer:
    return BigramTokenizer()


def test_overlapping_bigrams_of_a_cjk_run(tok: BigramTokenizer) -> None:
    assert tok.tokenize("锂离子电池") == ["锂离", "离子", "子电", "电池"]


def test_multichar_stopwords_are_cut_out_of_the_run(tok: BigramTokenizer) -> None:
    # 本发明/涉及/一种 are blanked, so no junk bigram like 及一 or 种锂 survives
    assert tok.tokenize("本发明涉及一种锂电池") == ["锂电", "电池"]
    assert tok.tokenize("所述电池") == ["电池"]
    assert tok.tokenize("我们公司需要耐热涂层") == ["耐热", "热涂", "涂层"]


def test_without_cut_only_stopword_bigrams_are_dropped() -> None:
    assert BigramTokenizer(cut=False).tokenize("所述电池") == ["述电", "电池"]


def test_single_char_stopwords_stay_inside_runs(tok: BigramTokenizer) -> None:
    # cutting at 的/和/在 would break 目的, 饱和, 存在: only isolated ones are dropped
    assert tok.tokenize("饱和的目的") == ["饱和", "和的", "的目", "目的"]
    assert tok.tokenize("钢 的 铁") == ["钢", "铁"]


def test_punctuation_ends_a_run_and_isolated_chars_are_unigrams(tok: BigramTokenizer) -> None:
    assert tok.tokenize("电池，隔膜。") == ["电池", "隔膜"]
    assert tok.tokenize("锂、钠") == ["锂", "钠"]
    assert tok.tokenize("！？。，") == []
    assert tok.tokenize("") == []


def test_ascii_words_and_numbers_are_kept_whole(tok: BigramTokenizer) -> None:
    got = tok.tokenize("采用LiFePO4正极，容量3.5Ah、寿命≥2000次，0.5%浓度，25℃")
    assert got == ["lifepo4", "正极", "容量", "3.5ah", "寿命", "2000", "次", "0.5%", "浓度", "25℃"]
    # full width is normalised first; hyphens split ASCII words
    assert tok.tokenize("ＡＢＣ１２３电池 li-ion") == ["abc123", "电池", "li", "ion"]


def test_bigrams_takes_normalised_text_and_any_stopword_set() -> None:
    norm = normalize_text("ＰＶ组件清洗")
    assert bigrams(norm) == ["pv", "组件", "件清", "清洗"]
    assert bigrams(norm, {"件清"}, cut=False) == ["pv", "组件", "清洗"]
    assert bigrams(norm, load_stopwords()) == ["pv", "组件", "件清", "清洗"]


def test_prefix_marks_every_term() -> None:
    assert BigramTokenizer(prefix=BIGRAM_PREFIX).tokenize("电池 x1") == [
        BIGRAM_PREFIX + "电池", BIGRAM_PREFIX + "x1"]


def test_one_index_with_prefixed_bigram_fields_equals_the_score_sum(tok: BigramTokenizer) -> None:
    """The wiring the study recommends: bigram fields in the same SparseIndex, terms
    prefixed, weight w x the word field's, score = word BM25 + w x bigram BM25 exactly."""
    from indexing.index.sparse import SparseIndex
    from indexing.text.tokenizer import ChineseTokenizer

    word = ChineseTokenizer()
    pre = BigramTokenizer(prefix=BIGRAM_PREFIX)
    titles = ["锂电池隔膜涂层", "光伏组件清洗机器人", "电池包液冷热管理", "数控机床电主轴"]
    abstracts = ["一种锂离子电池陶瓷涂覆隔膜，提高耐热性。", "用于光伏电站的清洗机器人。",
                 "动力电池包液冷系统，控制电池温度均匀。", "电主轴的冷却结构，减少热变形。"]
    fw = {"title": 2.0, "abstract": 1.0}
    w = 0.5
    words = SparseIndex.build({"title": word.tokenize_many(titles),
                               "abstract": word.tokenize_many(abstracts)}, fw)
    bis = SparseIndex.build({"title": tok.tokenize_many(titles),
                             "abstract": tok.tokenize_many(abstracts)}, fw)
    both = SparseIndex.build({"title": word.tokenize_many(titles), "abstract": word.tokenize_many(abstracts),
                              "title_bigram": pre.tokenize_many(titles),
                              "abstract_bigram": pre.tokenize_many(abstracts)},
                             {**fw, "title_bigram": w * 2.0, "abstract_bigram": w * 1.0})
    for q in ("电池温度不均匀", "光伏板清洗", "机床主轴发热"):
        want = words.scores(word.tokenize(q)) + w * bis.scores(tok.tokenize(q))
        got = both.scores(word.tokenize(q) + pre.tokenize(q))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert got.max() > 0
    # without the prefix the shared vocabulary mixes the fields: the query word 电池 also
    # scores against the bigram field's 电池 column, and the sum no longer holds
    mixed = SparseIndex.build({"title": word.tokenize_many(titles), "abstract": word.tokenize_many(abstracts),
                               "title_bigram": tok.tokenize_many(titles),
                               "abstract_bigram": tok.tokenize_many(abstracts)},
                              {**fw, "title_bigram": w * 2.0, "abstract_bigram": w * 1.0})
    q = "电池温度不均匀"
    want = words.scores(word.tokenize(q)) + w * bis.scores(tok.tokenize(q))
    assert not np.allclose(mixed.scores(word.tokenize(q) + tok.tokenize(q)), want, rtol=1e-3)

def _res(values: dict[str, dict[str, float]]) -> dict:
    return {t: {"rows": {s: {"ndcg@10": v} for s, v in per.items()}} for t, per in values.items()}


def test_choose_refuses_a_loss_anywhere_and_prefers_broad_wins() -> None:
    res = _res({"demands_dev": {"base": 0.50, "big": 0.80, "broad": 0.52, "flat": 0.50},
                "kppatent_title": {"base": 0.90, "big": 0.85, "broad": 0.91, "flat": 0.90},
                "csl_title": {"base": 0.70, "big": 0.70, "broad": 0.71, "flat": 0.70},
                "demo": {"base": 0.10, "big": 0.10, "broad": 0.01, "flat": 0.10}})  # not in the rule
    ranked = choose(res, "base", ["big", "broad", "flat"])
    assert [r["system"] for r in ranked] == ["broad", "flat"]  # "big" loses 5.6% on a task
    assert ranked[0]["wins"] == 3 and ranked[1]["wins"] == 0
    assert set(ranked[0]["deltas"]) == {"demands_dev", "kppatent_title", "csl_title"}


def test_choose_does_not_raise_a_weight_for_the_biased_set_alone() -> None:
    # "heavy" only adds on demands_dev: within the plateau elsewhere, the smaller change wins
    res = _res({"demands_dev": {"base": 0.50, "light": 0.60, "heavy": 0.75},
                "kppatent_title": {"base": 0.90, "light": 0.92, "heavy": 0.921},
                "csl_title": {"base": 0.70, "light": 0.72, "heavy": 0.72}})
    ranked = choose(res, "base", ["heavy", "light"], size={"light": 1.0, "heavy": 2.0}.get)
    assert [r["system"] for r in ranked] == ["light", "heavy"]
    assert all(r["plateau"] for r in ranked)
    # outside the plateau the larger non-biased gain decides, whatever the size
    res["kppatent_title"]["rows"]["heavy"]["ndcg@10"] = 0.99
    assert choose(res, "base", ["heavy", "light"], size={"light": 1.0, "heavy": 2.0}.get)[0]["system"] == "heavy"


def test_run_task_scores_every_system_on_the_tiny_task(tiny_task, tiny_encoder, tmp_path) -> None:
    """End to end on 8 patents / 4 demands: every lexical system, alone and fused with a
    (tiny) dense side, gets metrics; the rule returns a configuration; the markdown names it."""
    from benchmarks import bigram_study as bs

    res = bs.run_task(tiny_task, bs.tokenizers(), str(tmp_path / "tiny-encoder"))
    rows = res["rows"]
    assert set(bs.LEXICAL) <= set(rows) and "dense" in rows
    assert all(f"{s} + dense 1:{w:g}" in rows for s in bs.LEXICAL for w in bs.DENSE_WEIGHTS)
    for m in rows.values():
        assert 0.0 <= m["ndcg@10"] <= 1.0 and m["queries"] == 4
    # the word system is exactly word BM25: d4 (机床主轴发热变形) finds p7 (数控机床电主轴) first
    assert rows["word"]["mrr@10"] > 0.5
    results = {"demands_dev": res, "kppatent_title": res}
    pick, lines = bs.decide(results, "tiny")
    assert pick.endswith(f"dense 1:{bs.SHIPPED_DENSE:g}") or pick in rows
    md = bs.to_markdown(results, "tiny", None)
    assert "## Rule" in md and pick in md


def test_run_task_excludes_the_query_document(tiny_task) -> None:
    """csl_discipline drops the query paper from its own ranking before scoring."""
    from dataclasses import replace

    from benchmarks import bigram_study as bs

    q = replace(tiny_task, queries={"d9": "光伏组件清洗机器人"}, qrels={"d9": {"p2": 1, "p4": 1}})
    assert bs.run_task(q, bs.tokenizers(), None)["rows"]["word"]["recall@100"] == 1.0
    q = replace(q, exclude={"d9": frozenset({"p2"})})
    m = bs.run_task(q, bs.tokenizers(), None)["rows"]["word"]
    assert m["recall@100"] == 0.5 and m["mrr@10"] == 1.0  # p2 dropped: p4 (机器人) comes first


def test_cost_builds_one_index_per_configuration(tiny_task) -> None:
    from benchmarks import bigram_study as bs

    c = bs.cost(tiny_task, n_queries=4, configs=("word", "word+1bigram", "word+1bigram1f", "word+1bigram+1char"))
    r = c["configs"]
    assert c["documents"] == 8 and c["queries"] == 4
    # prefixed families add their own terms; per-field matrices are summed into one, so a
    # single bigram field has exactly the non-zeros of three
    assert r["word"]["vocab"] < r["word+1bigram"]["vocab"] < r["word+1bigram+1char"]["vocab"]
    assert r["word+1bigram"]["nnz"] == r["word+1bigram1f"]["nnz"] > r["word"]["nnz"]
    assert all(v["index_mb"] >= 0 and v["query_ms_p50"] > 0 for v in r.values())
    assert "## Cost" in bs.to_markdown({"demands_dev": bs.run_task(tiny_task, bs.tokenizers(), None)},
                                       None, {"tiny": c})
