"""HybridRanker on a tiny real bundle: filters inside retrieval, pagination, directions,
explanation offsets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from indexing.index.filters import Filters
from matcher.explain import build_reason, find_highlights
from patmatch.errors import InputError, NotFoundError

FILTERS = [
    Filters(chains=("pv",)),
    Filters(chains=("new_materials",)),
    Filters(applicant_types=("university",)),
    Filters(regions=("江苏省常州",)),
    Filters(ipc_prefix=("H02M",)),
    Filters(open_license_only=True),
    Filters(date_from="2015-01-01", date_to="2019-12-31"),
    Filters(chains=("battery_storage",), applicant_types=("soe", "institute")),
]


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: str({k: v for k, v in f.to_dict().items() if v}))
@pytest.mark.parametrize("query", ["锂电池低温放电", "光伏电站支架", "完全无关的天气预报"])
def test_filters_inside_retrieval(ranker: Any, tiny_bundle: Any, flt: Filters, query: str) -> None:
    side = tiny_bundle.patents
    mask = side.mask(flt)
    passing = set(np.flatnonzero(mask).tolist()) if mask is not None else set(range(len(side.ids)))
    k = 5
    got = ranker.match_text(query, filters=flt, limit=k, explain=False)
    rows = {side.row_of(m.record_id) for m in got}
    assert rows <= passing, "a record outside the filter came back"
    assert len(got) == min(k, len(passing)), "fewer than k results although enough pass"


def test_narrow_filter_returns_every_passing_record(ranker: Any, tiny_bundle: Any) -> None:
    flt = Filters(chains=("new_materials",), applicant_types=("university",))
    mask = tiny_bundle.patents.mask(flt)
    n = int(mask.sum())
    assert 0 < n < 10
    got = ranker.match_text("锂电池", filters=flt, limit=10, explain=False)
    assert got.total == n and len(got) == n


def test_stable_pagination(ranker: Any) -> None:
    full = ranker.match_demand("Dbat0", limit=30, explain=False)
    pages = [ranker.match_demand("Dbat0", limit=7, offset=o, explain=False) for o in (0, 7, 14, 21)]
    ids = [m.record_id for p in pages for m in p]
    assert ids == full.ids[: len(ids)]
    assert len(set(ids)) == len(ids)
    assert [m.rank for p in pages for m in p] == list(range(1, len(ids) + 1))
    with pytest.raises(InputError):
        ranker.match_demand("Dbat0", offset=30)


def test_components_and_no_percentages(ranker: Any) -> None:
    got = ranker.match_demand("Dbat0", limit=10)
    assert got.direction == "demand-to-patent" and got.items
    for m in got:
        assert m.lexical_rank > 0 or m.semantic_rank > 0
        assert (m.lexical_score is None) == (m.lexical_rank == 0)
        assert (m.semantic_score is None) == (m.semantic_rank == 0)
        assert "%" not in m.reason
    scores = [m.score for m in got]
    assert scores == sorted(scores, reverse=True)


def test_demand_finds_its_topic_and_explains(ranker: Any, tiny_bundle: Any) -> None:
    got = ranker.match_demand("Dbat0", limit=3)
    top = got.items[0]
    assert "battery_storage" in top.chains
    assert top.matched_terms and top.reason.startswith("命中：")
    assert "同属产业链：动力电池与新型储能" in top.reason or "同属产业链：battery_storage" in top.reason


def test_highlight_offsets_point_at_the_terms(ranker: Any, tiny_bundle: Any) -> None:
    side = tiny_bundle.patents
    for qid in ("Dbat0", "Dpv1", "Dsma2", "Dbio0"):
        for m in ranker.match_demand(qid, limit=5):
            doc = side.doc(side.row_of(m.record_id))
            assert m.highlights or not m.matched_terms
            for h in m.highlights:
                assert doc[h.field][h.start:h.end] == h.term
            shown = {h.term for h in m.highlights}
            assert set(m.matched_terms) <= shown


def test_find_highlights_is_width_and_case_insensitive() -> None:
    text = "采用ＬＥＤ光源与Li电池，led寿命长"
    hl = find_highlights(text, ["led", "li电池"], "title")
    assert [text[h.start:h.end] for h in hl] == ["ＬＥＤ", "Li电池", "led"]
    assert all(text[h.start:h.end] == h.term for h in hl)


def test_reason_format() -> None:
    r = build_reason(["锂电池", "低温"], ("冬季续航衰减", "低温放电性能"), ["battery_storage"])
    assert r.startswith("命中：锂电池、低温；语义相近：冬季续航衰减 ↔ 低温放电性能；同属产业链：")


def test_patent_to_demand_direction(ranker: Any) -> None:
    got = ranker.match_patent("P000", limit=3)
    assert got.direction == "patent-to-demand"
    assert got.items[0].record_id.startswith("Dbat")


def test_unknown_ids_and_empty_text(ranker: Any) -> None:
    with pytest.raises(NotFoundError):
        ranker.match_demand("nope")
    with pytest.raises(NotFoundError):
        ranker.match_patent("nope")
    with pytest.raises(InputError):
        ranker.match_text("  ")


def test_dedupe_terms_invariants() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from matcher.matched_terms import dedupe_terms

    @given(st.lists(st.text(alphabet="锂电池低温放", min_size=1, max_size=4), max_size=10))
    def check(terms: list[str]) -> None:
        kept = dedupe_terms(terms)
        assert not any(a != b and a in b for a in kept for b in kept)
        assert all(any(t in k for k in kept) for t in terms)
        assert set(kept) <= set(terms)

    check()


def test_generic_terms_are_not_shown_as_reasons(tokenizer: Any) -> None:
    from matcher.explain import Explainer

    ex = Explainer(tokenizer.tokenize, generic=lambda t: t == "技术")
    [e] = ex.explain_page("锂电池，技术", [{"title": "锂电池，技术", "abstract": ""}], semantic=False)
    assert "锂电池" in e.matched_terms and "技术" not in e.matched_terms
    assert "技术" not in e.reason
