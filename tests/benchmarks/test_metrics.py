from __future__ import annotations

import math

from benchmarks.metrics import mean_metrics, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_perfect_and_known_value() -> None:
    judged = {"a": 3, "b": 1}
    assert ndcg_at_k(["a", "b"], judged) == 1.0
    # b first, a second: (1/1 + 7/log2(3)) / (7 + 1/log2(3))
    expected = (1 + 7 / math.log2(3)) / (7 + 1 / math.log2(3))
    assert math.isclose(ndcg_at_k(["b", "a"], judged), expected)
    assert ndcg_at_k(["x", "y"], judged) == 0.0


def test_recall_and_mrr() -> None:
    judged = {"a": 3, "b": 1, "c": 0}
    assert recall_at_k(["x", "b", "c"], judged, 2) == 0.5
    assert mrr_at_k(["x", "c", "b"], judged, 10) == 1 / 3
    assert mrr_at_k(["x"] * 10 + ["a"], judged, 10) == 0.0


def test_mean_skips_queries_without_relevant_docs() -> None:
    qrels = {"q1": {"a": 3}, "q2": {"b": 0}, "q3": {"c": 2}}
    runs = {"q1": ["a"], "q3": ["x", "c"]}
    m = mean_metrics(runs, qrels)
    assert m["queries"] == 2
    assert math.isclose(m["mrr@10"], (1 + 0.5) / 2)
