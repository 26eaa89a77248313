"""Per-chain supply-demand list, and evaluation metrics against the benchmarks oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from matcher.chains import chain_pairs, export_pairs
from matcher.relevance import read_qrels


def test_chain_list_is_in_chain_deduplicated_ranked_and_paginated(ranker: Any, tiny_bundle: Any) -> None:
    full = chain_pairs(ranker, "pv", limit=1000)
    assert full.total == len(full) > 0
    pats, dems = tiny_bundle.patents, tiny_bundle.demands
    for p in full:
        assert "pv" in pats.facets["chains"][pats.row_of(p.patent_id)].to_list()
        assert "pv" in dems.facets["chains"][dems.row_of(p.demand_id)].to_list()
        assert "%" not in p.reason
    keys = [(p.demand_id, p.patent_id) for p in full]
    assert len(set(keys)) == len(keys)
    per_patent = pl.Series([p.patent_id for p in full]).value_counts()["count"].max()
    assert per_patent <= 3
    scores = [p.score for p in full]
    assert scores == sorted(scores, reverse=True)
    pages = [chain_pairs(ranker, "pv", limit=4, offset=o) for o in range(0, full.total, 4)]
    assert [(p.demand_id, p.patent_id) for pg in pages for p in pg] == keys
    assert chain_pairs(ranker, "no_such_chain").total == 0


def test_chain_export(ranker: Any, tmp_path: Path) -> None:
    n = export_pairs(ranker, "battery_storage", tmp_path / "c.xlsx")
    df = pl.read_excel(tmp_path / "c.xlsx")
    assert df.height == n > 0 and {"demand_id", "patent_id", "reason"} <= set(df.columns)


def test_read_qrels_with_header(tmp_path: Path) -> None:
    p = tmp_path / "q.tsv"
    p.write_text("demand_id\tpatent_id\tgrade\nd1\tp1\t3\nd1\tp2\t0\n", encoding="utf-8")
    assert read_qrels(p) == {"d1": {"p1": 3, "p2": 0}}
