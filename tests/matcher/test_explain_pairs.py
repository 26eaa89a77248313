"""Which semantic pairs are reasons (issue 20): none on a score that is almost all keywords,
none below the calibrated cosine, none with a clause that names nothing; the demand's own
labelled problem/effect is preferred. Synthetic vectors first, then the whole dev set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from matcher.explain import PAIR_MAX_LEXICAL_SHARE, PAIR_MIN_COSINE, Explainer

Q = "手机屏幕老是摔碎"
DOC = {"title": "", "abstract": "玻璃盖板的抗冲击结构，制备方法简单"}


def _unit(angle: float) -> list[float]:
    return [float(np.cos(angle)), float(np.sin(angle)), 0.0]


def _explainer(table: dict[str, list[float]], generic: set[str] = frozenset()) -> Explainer:
    def encode(texts: list[str]) -> np.ndarray:
        v = np.array([table.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    words = {"玻璃盖板的抗冲击结构": ["玻璃", "盖板", "抗冲击", "结构"], "制备方法简单": ["制备", "方法", "简单"],
             Q: ["手机", "屏幕", "摔碎"], "屏幕不耐摔": ["屏幕", "不耐", "摔"]}
    return Explainer(lambda t: words.get(t, [t]), encode, generic=lambda t: t in generic)


def _pair(ex: Explainer, share: float | None = None, **kw: Any) -> tuple[str, str] | None:
    return ex.explain_page(Q, [DOC], lexical_shares=[share], **kw)[0].semantic_pair


def test_no_pair_when_the_score_is_almost_all_keywords() -> None:
    ex = _explainer({Q: _unit(0.0), "玻璃盖板的抗冲击结构": _unit(0.3)})
    assert _pair(ex, 0.5) == (Q, "玻璃盖板的抗冲击结构")
    assert _pair(ex, PAIR_MAX_LEXICAL_SHARE) is None
    assert _pair(ex, None) == (Q, "玻璃盖板的抗冲击结构")  # no fused score: no share rule


def test_calibrated_cosine_bar() -> None:
    close = np.arccos(PAIR_MIN_COSINE + 0.02)
    far = np.arccos(PAIR_MIN_COSINE - 0.02)
    assert _pair(_explainer({Q: _unit(0.0), "玻璃盖板的抗冲击结构": _unit(close)})) is not None
    assert _pair(_explainer({Q: _unit(0.0), "玻璃盖板的抗冲击结构": _unit(far)})) is None


def test_a_clause_that_names_nothing_is_skipped_for_the_next() -> None:
    """制备方法简单 is closest, but every word of it is generic: the next clause is shown."""
    table = {Q: _unit(0.0), "制备方法简单": _unit(0.1), "玻璃盖板的抗冲击结构": _unit(0.5)}
    generic = {"制备", "方法", "简单"}
    assert _pair(_explainer(table)) == (Q, "制备方法简单")
    assert _pair(_explainer(table, generic)) == (Q, "玻璃盖板的抗冲击结构")
    # nothing specific left above the bar: no pair at all
    assert _pair(_explainer({Q: _unit(0.0), "制备方法简单": _unit(0.1)}, generic)) is None


def test_the_demands_labelled_problem_is_preferred() -> None:
    table = {Q: _unit(0.0), "屏幕不耐摔": _unit(0.05), "玻璃盖板的抗冲击结构": _unit(0.2)}
    ex = _explainer(table)
    assert _pair(ex)[0] == Q
    assert _pair(ex, query_labelled=["屏幕不耐摔"]) == ("屏幕不耐摔", "玻璃盖板的抗冲击结构")


def test_real_dev_set_pairs_are_reasons(demands_dev_ranker: Any, shared_data: Path) -> None:
    """The 70 demands_dev demands x top 10 (``match_demand``): before the rule 647 pairs were
    shown, 118 on scores almost all from keywords, 25 with a generic clause, 207 below the
    calibrated cosine (benchmarks/results/pair_study.md). Now none of those, while pairs
    are still shown on most matches where the semantic side carried the score and on
    judged-relevant matches."""
    from benchmarks.tasks import load_task

    ranker = demands_dev_ranker
    task = load_task("demands_dev", shared_data)
    explainer = ranker.explainer(ranker.bundle.patents)
    enc = ranker.encoder.encode_documents
    shown, heavy, heavy_shown, relevant_shown = [], 0, 0, 0
    for d in [q for q in task.queries if ranker.bundle.demands.row_of(q) is not None]:
        for m in ranker.match_demand(d, limit=10).items:
            semantic_heavy = any(w in m.reason for w in ("约各占一半", "大半来自语义相近", "几乎全部来自语义相近"))
            heavy += semantic_heavy
            if m.semantic_pair:
                shown.append(m.semantic_pair)
                assert "得分几乎全部来自关键词" not in m.reason, m.reason
                heavy_shown += semantic_heavy
                relevant_shown += task.qrels.get(d, {}).get(m.record_id, 0) > 0
    assert all(explainer.specific(a) and explainer.specific(b) for a, b in shown)
    cos = np.sum(enc([a for a, _ in shown]) * enc([b for _, b in shown]), axis=1)
    assert np.all(cos > PAIR_MIN_COSINE - 1e-6)
    assert len(shown) >= 350 and heavy_shown >= 0.75 * heavy and relevant_shown >= 70
    # the hand-checked case of issue20-goals.md: 配制含有镍离子 (kpz-test-0253) is gone
    page = ranker.match_text("寻求钠电正极料的规模化制备技术", limit=10).items
    assert all(not (m.semantic_pair and m.semantic_pair[1] in ("配制含有镍离子", "制备方法简单"))
               for m in page)
