"""Ingest says what it did: control characters, other sheets (issue 13 finding 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.intake.ingest import read_records
from patmatch.errors import FileFormatError


def test_nul_in_id_is_rejected_not_dropped(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "BAD\\u0000NUL-2", "text": "锂电池"}\n{"id": "OK-1", "text": "光伏\\u0007组件"}\n',
                 encoding="utf-8")
    recs, rejects = read_records("demands", p)
    assert [r.id for r in recs] == ["OK-1"] and recs[0].text == "光伏组件"
    assert len(rejects) == 1 and "control characters" in rejects[0].reason
    assert "BADNUL-2" not in {r.id for r in recs}


def _workbook(path: Path, second: list[list[str]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("需求")
    for i, row in enumerate([["id", "text"], ["D1", "锂电池低温"]]):
        ws.write_row(i, 0, row)
    ws2 = wb.add_worksheet("Sheet2")
    for i, row in enumerate(second):
        ws2.write_row(i, 0, row)
    wb.close()


def test_data_on_a_second_sheet_is_refused_by_name(tmp_path: Path) -> None:
    p = tmp_path / "d.xlsx"
    _workbook(p, [["id", "text"], ["D2", "光伏组件"], ["D3", "机器人"]])
    with pytest.raises(FileFormatError) as e:
        read_records("demands", p)
    assert "Sheet2" in e.value.message and e.value.details["ignored_sheet"] == "Sheet2"


def test_an_instructions_sheet_is_fine(tmp_path: Path) -> None:
    p = tmp_path / "d.xlsx"
    _workbook(p, [["填表说明"], ["每行一个需求"], ["联系电话必填"]])
    recs, _ = read_records("demands", p)
    assert [r.id for r in recs] == ["D1"]
