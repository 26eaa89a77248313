"""Ingest says what it did (issue 13): every coercion is reported with the rows it happened
in (the first ``SAMPLE_ROWS`` per counter, and the count), and Excel error cells
(``#DIV/0!``, ``#N/A`` ...) in real workbooks written by openpyxl are reported with row,
column and error: a required field rejects the row, any other field is empty. The CLI
prints all of it in Chinese; the ``--json`` keys stay English."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from indexing.intake.findings import SAMPLE_ROWS
from indexing.intake.ingest import ingest_files
from patmatch.settings import Settings

openpyxl = pytest.importorskip("openpyxl")

ABSTRACT = "本发明公开了一种锂电池低温电解液，改善低温放电性能。"


def _xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    """A workbook as Excel saves it: openpyxl stores "#DIV/0!" and the like as error
    cells (type ``e``), not as text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    errors = [c.value for row in ws.iter_rows() for c in row if c.data_type == "e"]
    assert errors, "the workbook must hold real error cells"
    return path


def test_coercions_are_reported_with_their_rows(tmp_path: Path) -> None:
    """JSONL keeps JSON types: whole-number phones become text, NaN-like placeholders become
    empty; each counter lists the first rows (file:row, the line number) and counts all."""
    rows = [{"id": f"D-{i}", "text": "需要锂电池低温电解液技术，改善冬季续航。",
             "contact_phone": 13812345600 + i if i % 2 == 0 else "13812345678",
             "deadline": "null" if i in (3, 7) else "2027-01-31"} for i in range(1, 26)]
    src = tmp_path / "d.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    rep = ingest_files("demands", [src], None, rejects_dir=None, dry_run=True)
    assert rep.rejected == 0 and rep.read == 25
    even = [i for i in range(1, 26) if i % 2 == 0]  # JSONL rows are line numbers
    assert rep.cleaned["number_as_text(contact_phone)"] == len(even) == 12
    assert rep.cleaned_rows["number_as_text(contact_phone)"] == [f"d.jsonl:{i}"
                                                                for i in even[:SAMPLE_ROWS]]
    assert rep.cleaned["placeholder_as_empty(deadline)"] == 2
    assert rep.cleaned_rows["placeholder_as_empty(deadline)"] == ["d.jsonl:3", "d.jsonl:7"]
    assert set(rep.cleaned_rows) == set(rep.cleaned)  # every counter says where


def test_excel_error_cells_in_patents(tmp_path: Path) -> None:
    """Chinese headers, as an office exports them. Required fields (编号/标题/摘要) with an
    error reject the row naming the error; optional ones are empty and reported."""
    header = ["公开号", "发明名称", "摘要", "权利要求书", "申请人", "地区", "许可费", "来源"]
    rows = [
        ["CN1001A", "一种低温电解液", ABSTRACT, "#DIV/0!", "常州大学", "#REF!", "#NAME?", "#NUM!"],
        ["CN1002A", "#N/A", ABSTRACT, "1. 一种电解液", "常州大学", "江苏省", None, None],
        ["CN1003A", "一种电池隔膜", "#VALUE!", None, "#NULL!", None, None, None],
        ["CN1004A", "一种电池外壳", ABSTRACT, None, "常州大学", None, None, None],
    ]
    src = _xlsx(tmp_path / "p.xlsx", header, rows)
    rep = ingest_files("patents", [src], None, rejects_dir=tmp_path / "rejects", dry_run=True)
    assert (rep.read, rep.accepted, rep.rejected) == (4, 2, 2)
    got = {(e["row"], e["column"]): (e["field"], e["error"], e["action"])
           for e in rep.excel_errors}
    # row numbers as a spreadsheet shows them: the header is row 1
    assert got == {
        (2, "权利要求书"): ("claims", "#DIV/0!", "empty"),
        (2, "地区"): ("region", "#REF!", "empty"),
        (2, "许可费"): ("license_fee", "#NAME?", "empty"),
        (2, "来源"): ("source", "#NUM!", "empty"),
        (3, "发明名称"): ("title", "#N/A", "rejected"),
        (4, "摘要"): ("abstract", "#VALUE!", "rejected"),
        (4, "申请人"): ("applicant", "#NULL!", "empty"),
    }
    assert rep.excel_error_cells == 7 and all(e["source"] == "p.xlsx" for e in rep.excel_errors)
    assert rep.cleaned["excel_error_as_empty(claims)"] == 1
    assert rep.cleaned_rows["excel_error_as_empty(claims)"] == ["p.xlsx:2"]
    with rep.rejects_path.open(encoding="utf-8-sig", newline="") as fh:
        rejected = {int(r["row"]): r for r in csv.DictReader(fh)}
    assert set(rejected) == {3, 4}
    assert rejected[3]["field"] == "title" and "Excel error #N/A" in rejected[3]["reason"]
    assert rejected[4]["field"] == "abstract" and "#VALUE!" in rejected[4]["reason"]
    assert '"#N/A"' in rejected[3]["raw"]  # the raw row shows what the cell held


def test_excel_error_cells_never_become_values(tmp_path: Path, settings: Settings) -> None:
    """Stored, the optional cells are empty (not the error text, not a shifted value)."""
    from indexing.store.record_store import open_store

    header = ["需求编号", "需求描述", "预算", "截止日期", "联系电话"]
    rows = [["D-1", "需要锂电池低温电解液技术。", "#DIV/0!", "#N/A", "#VALUE!"],
            ["D-2", "#REF!", "50万元", "2027-01-31", "13812345678"]]
    src = _xlsx(tmp_path / "d.xlsx", header, rows)
    with open_store(settings) as store:
        rep = ingest_files("demands", [src], store, rejects_dir=tmp_path / "r")
        assert (rep.accepted, rep.rejected) == (1, 1)
        d = store.get_demand("D-1")
    assert (d.budget, d.deadline, d.contact_phone) == (None, None, None)
    assert {(e["row"], e["field"], e["action"]) for e in rep.excel_errors} == {
        (2, "budget", "empty"), (2, "deadline", "empty"), (2, "contact_phone", "empty"),
        (3, "text", "rejected")}


def test_excel_error_cells_in_transfers(tmp_path: Path, settings: Settings) -> None:
    from indexing.intake.transfers import ingest_transfers
    from indexing.store.tables_transfers import open_transfers

    header = ["专利号", "事件类型", "生效日", "让与人", "受让人", "合同金额(万元)"]
    rows = [["ZL202110000001.1", "转让", "2025-03-01", "常州大学", "常州青禾科技有限公司", "#DIV/0!"],
            ["ZL202110000002.2", "许可", "#N/A", "南京大学", "上海申联电子有限公司", "50"]]
    src = _xlsx(tmp_path / "t.xlsx", header, rows)
    rep = ingest_transfers([src], open_transfers(settings), rejects_dir=tmp_path / "r")
    assert (rep.accepted, rep.rejected) == (1, 1)
    assert [(e["row"], e["column"], e["error"], e["action"]) for e in rep.excel_errors] == [
        (2, "合同金额(万元)", "#DIV/0!", "empty"), (3, "生效日", "#N/A", "rejected")]
    assert rep.cleaned_rows["excel_error_as_empty(amount_wan)"] == ["t.xlsx:2"]


def test_cli_prints_findings_in_chinese_and_json_keys_stay(tmp_path: Path,
                                                           settings: Settings) -> None:
    from api.cli import app

    header = ["公开号", "发明名称", "摘要", "权利要求书", "申请日"]
    rows = [["CN2001A", "一种低温电解液", ABSTRACT, "#DIV/0!", 44260],
            ["CN2002A", "#N/A", ABSTRACT, None, "2021-03-05"],
            ["CN2003A", "一种电池 <b>隔膜</b>", ABSTRACT, None, None]]
    src = _xlsx(tmp_path / "p.xlsx", header, rows)
    res = CliRunner().invoke(app, ["ingest", "patents", str(src), "--rejects-dir",
                                   str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "专利入库：读取 3 = 新增 2 + 更新 0 + 拒收 1 + 重复 0" in out
    assert "Excel 错误值：p.xlsx 第 2 行 “权利要求书” 列 #DIV/0!（按空值处理）" in out
    assert "Excel 错误值：p.xlsx 第 3 行 “发明名称” 列 #N/A（必填字段，整行拒收）" in out
    assert "Excel 错误值按空值处理：权利要求（claims）：1 行，如 p.xlsx:2" in out
    assert "去除 HTML 标签：1 行，如 p.xlsx:4" in out
    assert "拒收与重复的行已写入" in out and "库中现有专利 2 条、需求 0 条" in out
    for english in ("read ", "accepted", "rejects and duplicates", "store now holds", "rows"):
        assert english not in out, english
    res = CliRunner().invoke(app, ["ingest", "patents", str(src), "--json", "--dry-run"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for key in ("read", "accepted", "updated", "rejected", "duplicates", "unchanged",
                "rejects_path", "cleaned", "cleaned_rows", "excel_errors", "excel_error_cells"):
        assert key in doc, key
    assert doc["excel_errors"][0] == {"source": "p.xlsx", "row": 2, "column": "权利要求书",
                                      "field": "claims", "error": "#DIV/0!", "action": "empty"}
