"""The one definition of the IR metrics and the qrels reader (matcher/relevance.py), used
by the publish gate, `patmatch eval` and the benchmarks (issue 12)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from patmatch.errors import FileFormatError

from matcher.relevance import mean_metrics, mrr_at_k, ndcg_at_k, read_qrels, recall_at_k


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


def test_qrels_reader_accepts_bom_comments_and_any_header(tmp_path: Path) -> None:
    p = tmp_path / "q.tsv"
    p.write_text("\ufeffdemand_id\tpatent_id\tgrade\n# a note\nd1\tp1\t3\n\nd1\tp2\t0\n", "utf-8")
    assert read_qrels(p) == {"d1": {"p1": 3, "p2": 0}}


@pytest.mark.parametrize("content, message", [
    ("q\td\tgrade\nq1\tp1\thigh\n", "grade must be an integer, got 'high'"),
    ("q\td\tgrade\nq1\tp1\n", "3 tab-separated columns"),
    ("\x00\x01garbage", "3 tab-separated columns"),
])
def test_garbage_qrels_say_what_arrived(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.tsv"
    p.write_text(content, "utf-8")
    with pytest.raises(FileFormatError, match=message):
        read_qrels(p)
    with pytest.raises(FileFormatError, match="not found"):
        read_qrels(tmp_path / "missing.tsv")


ROOT = Path(__file__).resolve().parents[2]
ONE_DEFINITION = {"read_qrels", "mean_metrics", "metrics", "ndcg_at_k", "recall_at_k", "mrr_at_k",
                  "dcg"}


def test_metrics_and_qrels_are_defined_once() -> None:
    """Only matcher/relevance.py defines IR metrics or reads qrels: the gate, `patmatch
    eval` and every benchmark import them (a second copy would drift)."""
    home = ROOT / "matcher" / "relevance.py"
    offenders = []
    for package in ("patmatch", "labeling_spec", "indexing", "matcher", "api", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == home:
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if (isinstance(node, ast.FunctionDef) and node.name in ONE_DEFINITION
                        and not node.decorator_list):  # route handlers (Prometheus /metrics)
                    offenders.append(f"{path.relative_to(ROOT)}: def {node.name}")
    assert not offenders, "\n".join(offenders)


def test_the_gate_reads_through_the_one_module() -> None:
    import benchmarks.tasks as tasks
    import matcher.evaluate as evaluate
    import matcher.relevance as relevance

    assert evaluate.read_qrels is relevance.read_qrels and tasks.read_qrels is relevance.read_qrels
    assert evaluate.mean_metrics is relevance.mean_metrics
