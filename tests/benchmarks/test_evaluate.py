from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.evaluate import (
    FUSIONS, Bm25Baseline, baseline_systems, encoder_ablation, evaluate, fuse, precision_at_k,
    tokenizer_ablation,
)
from benchmarks.report import markdown_table, write_results
from benchmarks.tasks import Task
from indexing.text.tokenizer import ChineseTokenizer
from patmatch.errors import InputError


def test_bm25_finds_the_written_for_patent(tiny_task: Task) -> None:
    bm25 = Bm25Baseline(tiny_task.corpus, ChineseTokenizer().tokenize)
    runs = bm25(tiny_task.queries)
    assert runs["d1"][0] == "p1" and runs["d2"][0] == "p2"
    assert bm25({"q": "。，"}) == {"q": []}  # nothing to match: no hits, not random ones


def test_evaluate_overall_and_per_chain(tiny_task: Task) -> None:
    perfect = {q: sorted(j, key=lambda d: -j[d]) for q, j in tiny_task.qrels.items()}
    worst = {q: ["p8"] for q in tiny_task.qrels}
    res = evaluate(tiny_task, {"oracle": lambda q: perfect, "bad": lambda q: worst},
                   min_group_queries=1)
    oracle = res.overall("oracle")
    assert oracle["ndcg@10"] == 1.0 and oracle["mrr@10"] == 1.0 and oracle["queries"] == 4
    assert res.overall("bad")["ndcg@10"] == 0.0
    groups = {r["group"] for r in res.rows if r["system"] == "oracle"}
    assert groups == {"all", "battery_storage", "pv", "smart_equipment"}
    # a group is reported alone only when it has enough queries
    res3 = evaluate(tiny_task, {"oracle": lambda q: perfect}, min_group_queries=2)
    assert {r["group"] for r in res3.rows} == {"all", "battery_storage"}


def test_exclude_and_precision(tiny_task: Task) -> None:
    task = Task(name="t", description="", corpus=tiny_task.corpus, queries={"q": "x"},
                qrels={"q": {"p2": 1, "p3": 1}}, exclude={"q": frozenset({"p1"})},
                precision_ks=(2,))
    res = evaluate(task, {"s": lambda q: {"q": ["p1", "p2", "p9", "p3"]}})
    row = res.overall("s")
    assert row["precision@2"] == 0.5  # p1 dropped: [p2, p9]
    assert math.isclose(row["mrr@10"], 1.0)
    assert precision_at_k(["a", "b"], {"a": 1}, 4) == 0.25


def test_fusion_variants_rank_both_sides() -> None:
    lex = {"q": [("a", 9.0), ("b", 5.0)]}
    den = {"q": [("c", 0.9), ("a", 0.8)]}
    for method in FUSIONS:
        fused = fuse(lex, den, method)["q"]
        assert set(fused) == {"a", "b", "c"} and fused[0] == "a", method
    with pytest.raises(InputError, match="fusion method"):
        fuse(lex, den, "max")


def test_baseline_systems_with_tiny_encoder(tiny_task: Task, tiny_encoder, tmp_path: Path) -> None:
    systems = baseline_systems(tiny_task, ChineseTokenizer(), tiny_encoder)
    assert {"bm25", "dense", *FUSIONS} <= set(systems)
    res = evaluate(tiny_task, systems)
    assert res.overall("bm25")["mrr@10"] >= 0.75
    assert 0.0 < res.overall("dense")["recall@100"] <= 1.0
    abl = tokenizer_ablation(tiny_task)
    assert [r["system"] for r in abl.rows] == ["bm25[chars]", "bm25[jieba]", "bm25[jieba+domain]"]
    enc = encoder_ablation(tiny_task, {"tiny": tiny_encoder})
    assert enc.rows[0]["system"] == "dense[tiny]"
    js, md = write_results([res, abl], tmp_path / "results", stem="x", extra={"command": "test"})
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["machine"]["cpus"] and data["results"][0]["task"] == "tiny"
    text = md.read_text(encoding="utf-8")
    assert "| bm25 | all | 4 |" in text and "bm25[chars]" in markdown_table(abl)
