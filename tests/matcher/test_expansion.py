"""Query-side abbreviation expansion (issue 20): 钠电正极料 finds the 钠离子电池 patents,
at a weight below the literal terms, identically in the ranker and the batch kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from matcher.config import FusionConfig

QUERY = "寻求钠电正极料的规模化制备技术"


def _patents() -> list[dict[str, Any]]:
    rows = []
    for i in range(3):
        rows.append({"id": f"NA{i}", "title": f"一种钠离子电池层状氧化物{i}",
                     "abstract": "本发明提供一种钠离子电池层状氧化物，循环稳定性好。"})
    for i in range(8):
        rows.append({"id": f"LI{i}", "title": f"一种废旧锂电池正极回收方法{i}",
                     "abstract": "从废旧锂离子电池中回收正极，提高回收率。"})
    for i in range(4):
        rows.append({"id": f"PM{i}", "title": f"一种正极材料的包覆方法{i}",
                     "abstract": "正极材料表面包覆，提高倍率性能。"})
    return rows


@pytest.fixture(scope="module")
def na_ranker(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any, tiny_encoder: Any) -> Any:
    import polars as pl

    from indexing.index.bundle import SideIndex
    from indexing.index.dense import DenseConfig, DenseIndex
    from indexing.index.sparse import SparseIndex
    from matcher.ranker import HybridRanker

    rows = _patents()
    fields = {f: [tokenizer.tokenize(r[f]) for r in rows] for f in ("title", "abstract")}
    sparse = SparseIndex.build(fields, {"title": 2.0, "abstract": 1.0})
    dense = DenseIndex.build(tiny_encoder.encode_documents([r["title"] for r in rows]), DenseConfig())
    facets = pl.DataFrame({"id": [r["id"] for r in rows]})
    docs = pl.DataFrame([{k: r[k] for k in ("id", "title", "abstract")} for r in rows])
    side = SideIndex("patents", [r["id"] for r in rows], facets, docs, sparse, dense)

    class Bundle:
        def __init__(self) -> None:
            self.patents = self.demands = side
            self.build_id = "na-test"
            self.manifest = {"build_id": "na-test"}
            self.path = tmp_path_factory.mktemp("na")

        def side(self, name: str) -> Any:
            return self.patents

    return HybridRanker(Bundle(), tokenizer, tiny_encoder, FusionConfig(candidates=20, depth=20))


LEXICAL = FusionConfig(method="weighted_rrf", weights=(1.0, 0.0), candidates=20, depth=20)


def test_expansion_finds_the_full_term(na_ranker: Any) -> None:
    off = na_ranker.match_text(QUERY, fusion=FusionConfig.from_dict(
        {**LEXICAL.to_dict(), "expansion_weight": 0.0}), limit=3)
    on = na_ranker.match_text(QUERY, fusion=LEXICAL, limit=3)
    assert not off.items[0].record_id.startswith("NA")
    assert [m.record_id[:2] for m in on.items] == ["NA", "NA", "NA"]
    # the full term is what the broker sees among the matched terms
    assert "钠离子电池" in on.items[0].matched_terms
    assert "钠离子电池" in on.query_terms


def test_expansion_counts_less_than_the_literal_term(na_ranker: Any, tokenizer: Any) -> None:
    """A demand that writes 钠离子电池 out scores those patents higher than one that
    writes 钠电, and weight 1 scores as the written-out terms would."""
    from matcher.expansion import expander_for

    side = na_ranker.bundle.patents
    toks = tokenizer.tokenize_lexical(QUERY)
    extra, exps = expander_for(side, tokenizer, LEXICAL).extra_tokens(QUERY, toks)
    assert {e.full for e in exps} >= {"钠离子电池"} and extra and not set(extra) & set(toks)
    half = side.sparse.scores(toks + extra, [1.0] * len(toks) + [0.5] * len(extra))
    full = side.sparse.scores(toks + extra)
    lit = side.sparse.scores(toks)
    np.testing.assert_allclose(half, lit + 0.5 * (full - lit), rtol=1e-5, atol=1e-6)
    assert side.sparse.query_bound(toks + extra, [1.0] * len(toks) + [0.5] * len(extra)) == \
        pytest.approx(side.sparse.query_bound(toks) + 0.5 * side.sparse.query_bound(extra), rel=1e-6)


def test_batch_kernels_expand_the_same_way(na_ranker: Any) -> None:
    from matcher.evaluate import run_queries

    queries = {"q1": QUERY, "q2": "锂电正极料回收", "q3": "正极材料包覆"}
    fusion = FusionConfig.from_dict({**FusionConfig().to_dict(), "candidates": 20, "depth": 20})
    runs = run_queries(na_ranker, queries, k=10, fusion=fusion)
    for q, text in queries.items():
        single = na_ranker.match_text(text, fusion=fusion, limit=10, explain=False)
        assert runs[q] == [m.record_id for m in single.items], q


def test_off_and_weights_validated(na_ranker: Any) -> None:
    from patmatch.errors import ConfigError

    assert FusionConfig(expansion_weight=0).expansion_weight == 0.0
    with pytest.raises(ConfigError, match="expansion_weight"):
        FusionConfig(expansion_weight=1.5)
    with pytest.raises(ConfigError, match="one weight per token"):
        na_ranker.bundle.patents.sparse.scores(["钠"], [0.5, 0.5])


def test_real_sodium_cathode_demand(demands_dev_ranker: Any) -> None:
    """KPPatent-ZH, the shipped encoder and fusion: 寻求钠电正极料的规模化制备技术 ranks the
    sodium-ion cathode patent (kpz-train-0818) 5th (12th without expansion) and names
    钠离子电池 among its matched terms. Not top 3 (the issue's wish): that patent has no
    title in the corpus while four lithium cathode patents carry 正极材料 in theirs
    (benchmarks/results/abbrev_study.md)."""
    ranker = demands_dev_ranker
    got = ranker.match_text(QUERY, limit=10)
    ids = [m.record_id for m in got.items]
    assert "kpz-train-0818" in ids[:5], ids
    assert "钠离子电池" in got.items[ids.index("kpz-train-0818")].matched_terms
    off = FusionConfig.from_dict({**ranker.config.to_dict(), "expansion_weight": 0.0})
    before = [m.record_id for m in ranker.match_text(QUERY, limit=10, fusion=off).items]
    assert "kpz-train-0818" not in before  # 12th


@pytest.mark.parametrize("field", ["expansion_weight", "lexical_bound"])
@pytest.mark.parametrize("value", ["abc", None, float("nan"), -0.1, True, [0.5]])
def test_unit_interval_fields_refuse_garbage_by_name(field: str, value: Any) -> None:
    """A config file or manifest with text or NaN here is a ConfigError naming the field
    (it was a bare ValueError from float()); a request override is a 4xx InputError."""
    from patmatch.errors import ConfigError, InputError

    with pytest.raises(ConfigError, match=f"{field} must be a number within"):
        FusionConfig(**{field: value})
    if value is not None:  # a None override means "not given"
        with pytest.raises(InputError):
            FusionConfig().with_overrides({field: value})
