"""domain_terms() for the tokenizer, the vendoring script, and `patmatch label`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labeling_spec import domain_terms
from labeling_spec.maintenance.vendor_tables import split_title_terms


def test_domain_terms() -> None:
    terms = domain_terms()
    assert len(terms) > 10_000 and terms == sorted(set(terms))
    for t in ("锂离子电池", "太阳能电池", "工业机器人", "石墨烯", "碳纤维", "传感器", "数控机床"):
        assert t in terms, t
    assert all(2 <= len(t) <= 16 and "，" not in t and " " not in t for t in terms)
    assert len(domain_terms(include_ipc=False)) < len(terms)


def test_title_splitting() -> None:
    assert split_title_terms("专门用途的犁或类似的机具（排水用的入E02B11/02）") == ["专门用途", "类似", "机具"] or \
        "机具" in split_title_terms("专门用途的犁或类似的机具（排水用的入E02B11/02）")
    assert all("E02B" not in t for t in split_title_terms("排水用的入E02B11/02"))


def test_vendor_is_deterministic(shared_data: Path, tmp_path: Path) -> None:
    from labeling_spec.maintenance.vendor_tables import TABLES_DIR, vendor

    counts = vendor(shared_data, tmp_path)
    assert counts["sei_rules"] == 303 and counts["ipc_titles"] > 70_000
    for name in ("ipc_zh_titles.tsv.gz", "sei_ipc_2021_rules.tsv", "ipc_terms.txt.gz"):
        assert (tmp_path / name).read_bytes() == (TABLES_DIR / name).read_bytes(), name


def test_cli_label(tmp_path: Path, home: Path) -> None:
    from api.cli import app

    src = tmp_path / "p.csv"
    src.write_text("id,title,abstract,ipc,legal_status\n"
                   "CN1A,锂电池,本发明公开了一种锂离子电池，解决了寿命短的问题。,H01M10/0525;H01M4/58,授权\n"
                   "CN2,手套,一种劳保手套,,\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    res = CliRunner().invoke(app, ["label", str(src), "--out", str(out), "--kind", "patents"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["record_id"] for r in rows] == ["CN1A", "CN2"]
    assert rows[0]["chains"][0] == "battery_storage" and rows[1]["abstained"] is True
    res = CliRunner().invoke(app, ["label", str(src), "--out", str(out), "--kind", "bad"])
    assert res.exit_code == 2 and "expected --kind" in res.output


def test_cli_label_train_then_default_load(home: Path, tmp_path: Path) -> None:
    from api.cli import app
    from labeling_spec import Labeler

    res = CliRunner().invoke(app, ["label-train", "--sample", "1500", "--tokenizer", "bigram"])
    assert res.exit_code == 0, res.output
    assert (home / "models" / "labeler" / "classifier" / "meta.json").is_file()
    lab = Labeler.load()  # finds the trained classifier in the data home
    assert lab.classifier is not None and lab.classifier.fitted
    d = lab.label_demands([type("D", (), {"id": "d", "text": "寻求锂离子电池正极材料技术"})()])[0]
    assert "classifier" in d.method and d.top3


def test_cli_label_detects_demand_files(tmp_path: Path, home: Path) -> None:
    from api.cli import app

    src = tmp_path / "d.csv"
    src.write_text("需求编号,需求名称,需求描述,预算\n"
                   "XQ1,电池热失控,目前储能电池热失控风险高，希望找到一种动力电池热管理方案，预算50万元。,50万元\n",
                   encoding="utf-8")
    out = tmp_path / "d.xlsx"
    res = CliRunner().invoke(app, ["label", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "已标引 1 条需求" in res.output and out.stat().st_size > 0
    import polars as pl

    row = pl.read_excel(out).row(0, named=True)
    assert row["record_id"] == "XQ1" and "battery_storage" in row["chains"] and row["budget_wan_min"] == 50.0
