"""Explanations a broker can repeat (issue 20): boilerplate learned by document frequency
never becomes the semantic pair; the lexical/semantic split of a score in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.clauses import Boilerplate
from matcher.explain import Explainer, build_reason, lexical_share, share_words
from matcher.fusion import fuse_arrays

TOPICS = ["振动探头", "散热模组", "锂电池隔膜", "土壤墒情监测", "玻璃盖板", "减振支架", "水处理膜", "传感器封装"]


def _corpus(n: int = 120) -> list[str]:
    out = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        out.append(f"本发明公开了一种{t}的制备方法{i}，与现有技术相比，该{t}的寿命提高{i % 7 + 2}倍")
    return out


def _encode(texts: list[str]) -> np.ndarray:
    """Character-bag vectors: enough to make boilerplate pairs score high if allowed."""
    v = np.zeros((len(texts), 512), dtype=np.float32)
    for i, t in enumerate(texts):
        for c in t:
            v[i, hash(c) % 512] += 1.0
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def test_learned_from_document_frequency() -> None:
    bp = Boilerplate.learn(_corpus())
    assert "与现有技术相比" in bp.whole
    assert bp.strip("本发明公开了一种振动探头的制备方法") == "振动探头的制备方法"
    assert bp.strip("与现有技术相比") == ""
    # a topic clause is not boilerplate: each topic is in 1/8 of the records, but the
    # learned heads are the shared openings, and a topic's own words survive
    assert "锂电池隔膜" in bp.strip("该锂电池隔膜的寿命提高3倍")
    assert not Boilerplate.learn(_corpus(10))  # too few records: nothing is boilerplate
    assert Boilerplate.learn([]).strip("本发明公开了") == "本发明公开了"


def test_demand_heads_are_learned_too() -> None:
    demands = [f"我们公司主要做{t}，希望找到{t}的降本方案{i}" for i, t in enumerate(TOPICS * 15)]
    bp = Boilerplate.learn(demands)
    assert bp.strip("我们公司主要做环境监测设备") == "环境监测设备"


def test_semantic_pair_never_quotes_boilerplate() -> None:
    corpus = _corpus()
    bp = Boilerplate.learn(corpus)
    ex = Explainer(lambda t: [], _encode, boilerplate=bp)
    docs = [{"title": "", "abstract": a} for a in corpus[:8]]
    query = "与现有技术相比，需要寿命更长的振动探头"
    for e in ex.explain_page(query, docs):
        if e.semantic_pair:
            q, d = e.semantic_pair
            assert "与现有技术相比" not in (q, d) and not d.startswith("本发明")
    plain = Explainer(lambda t: [], _encode)  # without the learned list it does quote it
    assert any(e.semantic_pair and e.semantic_pair[0] == "与现有技术相比"
               for e in plain.explain_page(query, docs))


@pytest.mark.parametrize("share, words", [(0.95, "得分几乎全部来自关键词"), (0.7, "大半来自关键词"),
                                          (0.5, "约各占一半"), (0.3, "大半来自语义相近"),
                                          (0.0, "几乎全部来自语义相近")])
def test_share_in_words(share: float, words: str) -> None:
    assert words in share_words(share)
    r = build_reason(["锂电池"], None, [], lexical_share=share)
    assert r.startswith("命中：锂电池；") and words in r and "%" not in r


def test_share_edge_cases() -> None:
    assert share_words(None) == "" and share_words(float("nan")) == ""
    assert lexical_share(0.0, 0.0) is None and lexical_share(1.0, float("nan")) is None
    assert lexical_share(1.25, 1.0) == pytest.approx(0.8)
    assert build_reason([], None, []) == "语义检索召回（无共同关键词）"


def test_fused_lexical_part_adds_up() -> None:
    got = fuse_arrays([[1, 2]], [[3.0, 1.0]], [[2, 3]], [[0.9, 0.5]], method="linear",
                      weights=(1.0, 0.25), lexical_bound=1.0)
    rows = got["rows"][0]
    for j in range(int((rows >= 0).sum())):
        part, score = got["lexical_part"][0, j], got["score"][0, j]
        assert 0.0 <= part <= score + 1e-12


def test_the_word_a_person_would_name_is_shown() -> None:
    """锂电池 is common in a battery corpus (generic), 锂电 is not: the matched terms show
    锂电池, the word of the demand, not only its fragment."""
    toks = {"需要锂电池低温方案": ["需要", "锂电", "电池", "锂电池", "低温", "方案"]}
    ex = Explainer(lambda t: toks[t], None, generic=lambda t: t in {"锂电池", "电池", "方案"},
                   term_weight=lambda t: -len(t))
    terms = ex.query_terms("需要锂电池低温方案")
    assert "锂电池" in terms and "电池" not in terms and "方案" not in terms
    e = ex.explain_page("需要锂电池低温方案", [{"title": "一种锂电池低温电解液", "abstract": ""}])[0]
    assert "锂电池" in e.matched_terms and "锂电" not in e.matched_terms


def test_real_corpus_formula_clauses_are_boilerplate(shared_data: Path) -> None:
    """KPPatent-ZH: 与现有技术相比 is a whole clause of 0.8 % of the records (below the
    heads' 2 %); it is learned as boilerplate, topic clauses are not cut."""
    from benchmarks.tasks import kppatent_records

    bp = Boilerplate.learn(f"{r.title}。{r.abstract}" for r in kppatent_records(shared_data))
    assert bp.strip("与现有技术相比") == ""
    assert bp.strip("其特征在于") == ""
    for topic in ("锂电池隔膜的寿命提高", "正极活性材料的制备", "振动探头", "土壤墒情监测终端"):
        assert bp.strip(topic) == topic
