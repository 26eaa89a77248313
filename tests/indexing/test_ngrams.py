"""Character n-gram families: the query-side terms (NgramTerms), the build's vectorised
coding (CodedCorpus) equal to them term for term, and their BM25 block in a bundle."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from indexing.text.ngrams import (BIGRAM_PREFIX, CHAR_PREFIX, CodedCorpus, NgramTerms, coded_fields,
                             is_ngram, strip_prefix)
from indexing.index.sparse import SparseIndex
from indexing.text.dictionaries import load_stopwords
from indexing.text.normalization import normalize_many, normalize_text
from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig
from patmatch.errors import ConfigError

HARD = ["本发明涉及一种锂电池", "所述电池", "饱和的目的", "钢 的 铁", "电池，隔膜。", "锂、钠", "！？。，", "",
        "采用LiFePO4正极，容量3.5Ah、寿命≥2000次，0.5%浓度，25℃", "ＡＢＣ１２３电池 li-ion",
        "我们公司需要耐热涂层", "单", "ab", "3.5 mm的不锈钢，厚度2-8mm"]


@pytest.fixture(scope="module")
def ng() -> NgramTerms:
    return NgramTerms(load_stopwords())


def test_bigram_and_char_terms_on_hand_cases(ng: NgramTerms) -> None:
    n = normalize_text
    assert ng.bigrams(n("锂离子电池")) == ["锂离", "离子", "子电", "电池"]
    assert ng.bigrams(n("本发明涉及一种锂电池")) == ["锂电", "电池"]  # boilerplate cut out
    assert ng.bigrams(n("饱和的目的")) == ["饱和", "和的", "的目", "目的"]  # 的 inside a run stays
    assert ng.bigrams(n("钢 的 铁")) == ["钢", "铁"]  # an isolated stopword character goes
    assert ng.bigrams(n("采用LiFePO4正极，容量3.5Ah、25℃")) == [
        "lifepo4", "正极", "容量", "3.5ah", "25℃"]  # 采用 is a stopword
    assert ng.chars(n("锂电池的正极3.5Ah")) == ["锂", "电", "池", "正", "极", "3.5ah"]
    assert ng.terms(n("电池")) == {"bigram": [BIGRAM_PREFIX + "电池"],
                                  "char": [CHAR_PREFIX + "电", CHAR_PREFIX + "池"]}
    assert is_ngram(BIGRAM_PREFIX + "电池") and not is_ngram("电池")
    assert strip_prefix(CHAR_PREFIX + "电") == "电" and strip_prefix("电池") == "电池"


def test_coded_corpus_equals_the_python_terms(ng: NgramTerms, shared_data: Path) -> None:
    path = shared_data / "kppatent_zh" / "kppatent_zh_joined.jsonl"
    texts = [json.loads(line)["abstract"] for _, line in zip(range(300), path.open(encoding="utf-8"))]
    norm = normalize_many(texts + HARD)
    corpus = CodedCorpus(ng)
    coded, vocab = coded_fields(corpus, {"a_bigram": ("bigram", norm), "a_char": ("char", norm)})
    assert len(vocab) == len(set(vocab))
    for field, fam in (("a_bigram", "bigram"), ("a_char", "char")):
        rows, ids = coded[field]
        got = [Counter() for _ in norm]
        for r, i in zip(rows.tolist(), ids.tolist(), strict=True):
            got[r][vocab[i]] += 1
        want = [Counter(ng.terms(t)[fam]) for t in norm]
        assert got == want, field


def test_coded_corpus_refuses_unnormalised_text(ng: NgramTerms) -> None:
    with pytest.raises(ConfigError, match="normalised text"):
        CodedCorpus(ng).family("bigram", ["第一行\n第二行"])


def test_coded_bm25_block_equals_bm25_over_python_terms(ng: NgramTerms) -> None:
    docs = normalize_many(["一种锂离子电池正极材料及其制备方法", "电池管理系统的均衡电路",
                           "光伏组件自动清洗机器人", "锂电池低温加热装置，3.5Ah", ""])
    weights = {"t_bigram": 1.0, "t_char": 0.5}
    coded, vocab = coded_fields(CodedCorpus(ng), {"t_bigram": ("bigram", docs),
                                                 "t_char": ("char", docs)})
    fast = SparseIndex.build_coded(coded, vocab, weights, len(docs))
    slow = SparseIndex.build({"t_bigram": [ng.terms(d)["bigram"] for d in docs],
                              "t_char": [ng.terms(d)["char"] for d in docs]}, weights)
    for query in ("锂电池", "电池均衡", "清洗机器人 3.5ah", "无关"):
        terms = [t for fam in ng.terms(normalize_text(query)).values() for t in fam]
        assert np.array_equal(fast.scores(terms), slow.scores(terms)), query


def test_tokenizer_lexical_terms_and_config() -> None:
    tok = ChineseTokenizer()
    terms = tok.tokenize_lexical("锂电池正极")
    words = [t for t in terms if not is_ngram(t)]
    assert words == tok.tokenize("锂电池正极")
    assert BIGRAM_PREFIX + "锂电" in terms and CHAR_PREFIX + "锂" in terms
    plain = ChineseTokenizer(TokenizerConfig(ngrams=()))
    assert plain.tokenize_lexical("锂电池正极") == plain.tokenize("锂电池正极")
    assert plain.fingerprint != tok.fingerprint
    assert ChineseTokenizer(TokenizerConfig(mode="chars")).ngram_terms is None
    assert TokenizerConfig.from_dict(TokenizerConfig(ngrams=("bigram",)).to_dict()).ngrams == ("bigram",)
    with pytest.raises(ConfigError, match="ngrams"):
        TokenizerConfig(ngrams=("trigram",))


def test_dropping_common_terms_equals_ignoring_them_in_queries(ng: NgramTerms) -> None:
    docs = normalize_many(["锂电池正极材料", "锂电池负极材料", "锂电池隔膜", "光伏组件支架"])
    coded, vocab = coded_fields(CodedCorpus(ng), {"t_char": ("char", docs)})
    full = SparseIndex.build_coded(coded, vocab, {"t_char": 1.0}, len(docs))
    slim = full.drop_common(0.5)  # 锂/电/池 are in 3 of 4 documents
    assert CHAR_PREFIX + "锂" in full.vocab and CHAR_PREFIX + "锂" not in slim.vocab
    q = [t for fam in ng.terms(normalize_text("锂电池材料")).values() for t in fam]
    rare = [t for t in q if t in slim.vocab]
    assert np.array_equal(slim.scores(q), full.scores(rare))
    assert full.drop_common(1.0) is full


def test_batch_query_matrix_equals_the_one_query_terms(tmp_path) -> None:  # noqa: ANN001
    """matcher.kernels.lexical_query_matrix codes n-grams in numpy; its counts must be
    those of tokenize_lexical, query by query, on a real bundle."""
    from indexing.build.pipeline import build_bundle
    from indexing.index.bundle import IndexBundle
    from matcher.kernels import lexical_query_matrix
    from tests.indexing._bundle_fakes import FakeEncoder, make_records

    pats, dems = make_records(40, 6)
    tok = ChineseTokenizer()
    b = IndexBundle.load(build_bundle(pats, dems, out_dir=tmp_path / "b", tokenizer=tok,
                                      encoder=FakeEncoder()))
    texts = [p.title + "。" + p.abstract for p in pats[:12]] + HARD
    fast = lexical_query_matrix(b.patents, tok, texts)
    slow = b.patents.query_matrix([tok.tokenize_lexical(t) for t in texts])
    assert fast.shape == slow.shape and (fast != slow).nnz == 0
    assert fast.nnz > sum(len(tok.tokenize(t)) for t in texts[:12]) // 2


def test_bundles_recorded_before_ngrams_keep_loading() -> None:
    """A manifest written before the n-gram families has no "ngrams" key: it means none,
    and the fingerprint is the one such bundles recorded (they must still load)."""
    old = {"backend": "rjieba", "mode": "words", "domain_dict": True, "user_dict": None,
           "hmm": True, "stopwords": True, "search": True}
    legacy = ChineseTokenizer(TokenizerConfig.recorded(old))
    assert legacy.config.ngrams == () and legacy.ngram_terms is None
    assert legacy.fingerprint == ChineseTokenizer(TokenizerConfig(ngrams=())).fingerprint
    current = TokenizerConfig()
    assert TokenizerConfig.recorded(current.to_dict()) == current  # new manifests round-trip
    assert ChineseTokenizer(current).fingerprint != legacy.fingerprint


@pytest.mark.parametrize("bad", [0, -0.1, 1.5])
def test_ngram_max_df_out_of_range_is_refused(bad: float) -> None:
    from indexing.build.build_config import BuildConfig
    with pytest.raises(ConfigError, match="ngram_max_df must be in"):
        BuildConfig(ngram_max_df=bad)
    with pytest.raises(ConfigError, match="ngram_max_df must be in"):
        BuildConfig.from_dict({"ngram_max_df": bad})


def test_unknown_ngram_field_in_build_config_is_refused() -> None:
    from indexing.build.build_config import BuildConfig
    with pytest.raises(ConfigError, match="title_trigram"):
        BuildConfig(patent_fields={"title": 1.0, "title_trigram": 1.0})
