"""Readers: encodings, formats, header aliases, blank rows, clear file-level errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from indexing.intake.aliases import PATENT_ALIASES
from indexing.intake.columns import unpack_text
from indexing.intake.readers import read_table
from patmatch.errors import EncodingError, FileFormatError, MissingColumnError

ZH_CSV = "公开号,发明名称,摘要,IPC分类号,申请人,申请日\nCN1A,一种锂电池,本发明公开了一种锂电池。,H01M 10/0525,常州大学,2021年3月5日\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes(ZH_CSV.encode(encoding))
    t = read_table(p, "patents")
    assert len(t.rows) == 1 and t.rows[0][1]["title"] == "一种锂电池"
    assert t.columns["公开号"] == "id" and t.columns["IPC分类号"] == "ipc"
    assert t.encoding == ("gb18030" if encoding in ("gbk", "gb18030") else encoding)


def test_gb18030_only_characters(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes("id,title,abstract\nCN1,一种𠀀㐀材料,摘要\n".encode("gb18030"))
    assert read_table(p, "patents").rows[0][1]["title"] == "一种𠀀㐀材料"


def test_undecodable_bytes_are_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes(b"id,title,abstract\n1,\xff\xff\xff\xff,x\n")
    with pytest.raises(EncodingError, match="UTF-8"):
        read_table(p, "patents")


def test_blank_rows_skipped_and_row_numbers_kept(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("id,title,abstract\r\n,,\r\nCN1,t,a\r\n,,\r\n,,\r\nCN2,\"多行\n标题\",a\r\n", encoding="utf-8")
    t = read_table(p, "patents")
    assert t.blank_rows == 3 and [r[0] for r in t.rows] == [3, 6]


def test_xlsx_jsonl_parquet_tsv(tmp_path: Path) -> None:
    df = pl.DataFrame({"需求编号": ["D1", "D2"], "需求描述": ["冬天电池掉电快", "焊缝总焊偏"],
                       "联系电话": ["13812345678", None]})
    df.write_excel(tmp_path / "d.xlsx")
    df.write_parquet(tmp_path / "d.parquet")
    df.write_csv(tmp_path / "d.tsv", separator="\t")
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in df.to_dicts()),
                                      encoding="utf-8")
    for name in ("d.xlsx", "d.parquet", "d.tsv", "d.jsonl"):
        t = read_table(tmp_path / name, "demands")
        assert [r[1]["id"] for r in t.rows] == ["D1", "D2"], name
        assert t.rows[0][1]["contact_phone"] == "13812345678" and t.rows[1][1]["text"] == "焊缝总焊偏"


def test_jsonl_bad_line_becomes_row_error(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text('{"id": "1", "title": "t", "abstract": "a"}\n{broken\n\n[1, 2]\n', encoding="utf-8")
    t = read_table(p, "patents")
    assert t.blank_rows == 1
    assert [r[0] for r in t.rows] == [1, 2, 4]
    assert "invalid JSON on line 2" in t.rows[1][1]["__error__"]
    assert "JSON object" in t.rows[2][1]["__error__"]


@pytest.mark.parametrize("name, content, match", [
    ("p.docx", b"x", "unknown file type"),
    ("p.csv", b"", "empty"),
    ("p.csv", b"id,title,abstract\n", "no data rows"),
    ("p.csv", b"id,title,abstract\n,,\n,,\n", "2 blank rows"),
    ("p.jsonl", b"\n\n", "no data rows"),
    ("p.xlsx", b"not a workbook", "Excel"),
    ("p.parquet", b"nope", "Parquet"),
])
def test_file_level_errors(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=match):
        read_table(p, "patents")


def test_missing_required_column_names_aliases(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("公开号,发明名称\nCN1,t\n", encoding="utf-8")
    with pytest.raises(MissingColumnError) as exc:
        read_table(p, "patents")
    assert "abstract" in exc.value.message and "公开号" in exc.value.message
    assert "摘要" in exc.value.details["aliases tried for abstract"]


def test_aliases_are_unique_per_field() -> None:
    from indexing.intake.aliases import header_key

    seen: dict[str, str] = {}
    for f, names in PATENT_ALIASES.items():
        for n in names:
            assert seen.setdefault(header_key(n), f) == f, n


def test_unpack_packed_text() -> None:
    assert unpack_text("Title: 一种方法\nKeywords: a; b\nAbstract: 本发明公开。") == ("一种方法", "本发明公开。")
    assert unpack_text("一种方法 [SEP] a b [SEP] 本发明公开。") == ("一种方法", "本发明公开。")
    assert unpack_text("只有摘要") == (None, "只有摘要")


def test_real_cpc_csv_with_bom_and_blank_rows(shared_data: Path) -> None:
    total = 0
    for split in ("train", "val", "test"):
        t = read_table(shared_data / "samples" / f"sample_{split}.csv", "patents")
        assert t.encoding == "utf-8-sig" and t.blank_rows > 0
        assert all(r[1]["title"] and r[1]["abstract"] and r[1]["id"].startswith("CN") for r in t.rows)
        total += len(t.rows)
    assert total == 57


def test_real_cnki_excel_export(shared_data: Path) -> None:
    t = read_table(shared_data / "samples" / "cnki_material_chemistry_2018_2019.xlsx", "patents")
    assert len(t.rows) == 33 and t.rows[0][1]["id"] == "CN108982325A"
    assert t.columns["com"] == "applicant" and t.columns["ChDiv_summary"] == "abstract"


def test_typed_excel_cells_arrive_as_text(tmp_path: Path) -> None:
    import datetime

    import xlsxwriter

    from indexing.intake.ingest import read_records

    wb = xlsxwriter.Workbook(tmp_path / "t.xlsx")
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["需求编号", "需求描述", "截止日期", "技术成熟度", "联系电话", "是否保密"])
    ws.write_number(1, 0, 12345)
    ws.write(1, 1, "文本")
    ws.write_datetime(1, 2, datetime.datetime(2025, 3, 5), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_number(1, 3, 5)
    ws.write_number(1, 4, 13812345678)
    ws.write_boolean(1, 5, True)
    wb.close()
    (rec,), rejects = read_records("demands", tmp_path / "t.xlsx")
    assert not rejects
    assert (rec.id, rec.deadline, rec.required_trl, rec.contact_phone, rec.confidential) == (
        "12345", "2025-03-05", 5, "13812345678", True)


def test_auto_id_only_when_asked(tmp_path: Path) -> None:
    from indexing.intake.ingest import read_records

    p = tmp_path / "needs.csv"
    p.write_text("需求描述\n冬天电池掉电快\n焊缝总焊偏\n", encoding="utf-8")
    with pytest.raises(MissingColumnError):
        read_records("demands", p)
    recs, _ = read_records("demands", p, auto_id=True)
    assert [r.id for r in recs] == ["needs-2", "needs-3"]


def test_title_line_above_the_header_is_skipped(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("2025年企业技术需求汇总表,,\n填报单位：常州市知识产权局,,\n需求编号,需求描述,联系人\n"
                 "D1,冬天电池掉电快,张三\n", encoding="utf-8")
    t = read_table(p, "demands")
    assert [(r[0], r[1]["id"], r[1]["text"]) for r in t.rows] == [(4, "D1", "冬天电池掉电快")]
    df = pl.DataFrame({"企业技术需求汇总表": ["需求编号", "D1"], "": ["需求描述", "焊偏"]})
    df.write_excel(tmp_path / "d.xlsx")
    assert read_table(tmp_path / "d.xlsx", "demands").rows[0][1]["text"] == "焊偏"


def test_ragged_csv_loses_no_cell_and_tab_csv_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("企业技术需求汇总表\n需求编号,需求描述,联系人\nD1,冬天电池掉电快,张三,多出来的备注\n",
                 encoding="utf-8")
    t = read_table(p, "demands")
    (rownum, row, raw), = t.rows
    assert (rownum, row["id"], row["text"]) == (3, "D1", "冬天电池掉电快")
    assert "多出来的备注" in raw.values()
    q = tmp_path / "t.csv"
    q.write_text("需求编号\t需求描述\nD1\t焊偏\n", encoding="utf-8")
    assert read_table(q, "demands").rows[0][1]["text"] == "焊偏"
