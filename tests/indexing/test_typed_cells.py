"""Typed-column garbage on every input path (issue 13, finding 5: "Parquet numbers become
text (title 789); dates 9999-12-31 and 1899-12-30 pass").

For patents, demands and transfers, and for CSV, XLSX (cells written with their Excel
types), JSONL (JSON types) and Parquet (column types): a number where text is expected,
a true/false value, a date, a list, a struct, NaN, Excel serial dates and placeholder
dates. Each case is a row-level reject naming the field, or a coercion the ingest report
counts (``cleaned``), never silent text. The rules: ``indexing/intake/cells.py``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from indexing.intake.cells import check_cells

NAN = math.nan
D = dt.date
# (case, field, typed value, outcome when the cell keeps its type (JSONL, Parquet),
#  outcome when it arrives as text (CSV, XLSX)); an outcome is ("reject", words of the
#  reason), ("coerce", the cleaned key) or ("ok", None); None: not expressible as text
Case = tuple[str, str, Any, tuple[str, str | None], tuple[str, str | None] | None]
PATENT_CASES: list[Case] = [
    ("title number", "title", 789, ("reject", "title is a number"),
     ("reject", "title is only a number")),
    ("title bool", "title", True, ("reject", "title is a true/false value"),
     ("reject", "title is a true/false value")),
    ("title date", "title", dt.datetime(2021, 3, 5), ("reject", "title is a date"),
     ("reject", "title is a date")),
    ("title list", "title", ["一种", "电池"], ("reject", "title is a list"), None),
    ("title struct", "title", {"zh": "一种电池"}, ("reject", "title is a nested record"), None),
    ("title NaN", "title", NAN, ("reject", "required field title"),
     ("reject", "required field title")),
    ("abstract float", "abstract", 789.5, ("reject", "abstract is a number"),
     ("reject", "abstract is only a number")),
    ("applicant number", "applicant", 42, ("reject", "applicant is a number"),
     ("reject", "applicant is only a number")),
    ("date serial", "application_date", 44260, ("coerce", "excel_serial_date(application_date)"),
     ("coerce", "excel_serial_date(application_date)")),
    ("date 9999", "application_date", D(9999, 12, 31), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("date 1899", "application_date", D(1899, 12, 30), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("date serial 0", "application_date", 0, ("reject", "implausible date"),
     ("reject", "malformed date")),
    ("date bool", "publication_date", False, ("reject", "publication_date is a true/false"),
     ("reject", "malformed date")),
    ("id number", "id", 12345, ("coerce", "number_as_text(id)"), ("ok", None)),
    ("id fraction", "id", 12.5, ("reject", "id is a fractional number"), ("ok", None)),
    ("licence bool", "open_license", True, ("ok", None), ("ok", None)),
    ("citations NaN", "citations", NAN, ("coerce", "placeholder_as_empty(citations)"),
     ("coerce", "placeholder_as_empty(citations)")),
    ("ipc list", "ipc", ["H01M10/0525"], ("ok", None), None),
    ("ipc struct", "ipc", {"main": "H01M"}, ("reject", "ipc is a nested record"), None),
]
DEMAND_CASES: list[Case] = [
    ("text number", "text", 123456, ("reject", "text is a number"),
     ("reject", "text is only a number")),
    ("text bool", "text", False, ("reject", "text is a true/false value"),
     ("reject", "text is a true/false value")),
    ("title date", "title", dt.datetime(2024, 1, 2), ("reject", "title is a date"),
     ("reject", "title is a date")),
    ("enterprise number", "enterprise", 3.0, ("reject", "enterprise is a number"),
     ("reject", "enterprise is only a number")),
    ("deadline serial", "deadline", 46000, ("coerce", "excel_serial_date(deadline)"),
     ("coerce", "excel_serial_date(deadline)")),
    ("deadline 9999", "deadline", D(9999, 12, 31), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("deadline 1899", "deadline", D(1899, 12, 30), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("budget number", "budget", 50, ("coerce", "number_as_text(budget)"), ("ok", None)),
    ("phone number", "contact_phone", 13912345678, ("coerce", "number_as_text(contact_phone)"),
     ("ok", None)),
    ("confidential bool", "confidential", True, ("ok", None), ("ok", None)),
    ("industry list", "industry", ["电池", "储能"], ("reject", "industry is a list"), None),
    ("text NaN", "text", NAN, ("reject", "required field text"), ("reject", "required field text")),
]
TRANSFER_CASES: list[Case] = [
    ("assignor number", "assignor", 789, ("reject", "assignor is a number"),
     ("reject", "assignor is only a number")),
    ("assignee bool", "assignee", True, ("reject", "assignee is a true/false value"),
     ("reject", "assignee is a true/false value")),
    ("date serial", "effective_date", 45700, ("coerce", "excel_serial_date(effective_date)"),
     ("coerce", "excel_serial_date(effective_date)")),
    ("date 9999", "effective_date", D(9999, 12, 31), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("date 1899", "effective_date", D(1899, 12, 30), ("reject", "implausible date"),
     ("reject", "implausible date")),
    ("amount NaN", "amount_wan", NAN, ("coerce", "placeholder_as_empty(amount_wan)"),
     ("coerce", "placeholder_as_empty(amount_wan)")),
    ("amount bool", "amount_wan", True, ("reject", "amount_wan is a true/false value"),
     ("reject", "amount_wan")),
    ("patent number float", "patent_id", 201810123456.7,
     ("reject", "patent_id is a fractional number"), ("ok", None)),
    ("event type list", "event_type", ["转让"], ("reject", "event_type is a list"), None),
]
GOOD = {
    "patents": {"id": "P-0", "title": "一种低温锂电池电解液", "abstract": "改善锂电池低温放电性能。",
                "application_date": "2021-03-05", "publication_date": None, "applicant": "常州大学",
                "open_license": None, "citations": None, "ipc": None},
    "demands": {"id": "D-0", "text": "需要锂电池低温电解液", "title": "低温电池", "enterprise": "常州某公司",
                "deadline": "2027-01-31", "budget": "面议", "contact_phone": None,
                "confidential": None, "industry": None},
    "transfers": {"patent_id": "ZL202110000000.1", "event_type": "转让", "effective_date": "2025-03-01",
                  "assignor": "常州大学", "assignee": "常州青禾科技有限公司", "amount_wan": None},
}
CASES = {"patents": PATENT_CASES, "demands": DEMAND_CASES, "transfers": TRANSFER_CASES}
ALL = [(kind, c) for kind, cases in CASES.items() for c in cases]


def _row(kind: str, i: int, case: Case) -> dict[str, Any]:
    row = dict(GOOD[kind])
    key = "patent_id" if kind == "transfers" else "id"
    row[key] = f"ZL20211000{i:04d}.1" if kind == "transfers" else f"{kind[0].upper()}-{i}"
    row[case[1]] = case[2]
    return row


def _as_text(v: Any) -> str:
    """A cell as a spreadsheet program exports it to CSV."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, dt.datetime):
        return f"{v:%Y-%m-%d %H:%M:%S}"
    return str(v)


def _write(fmt: str, path: Path, rows: list[dict[str, Any]]) -> Path:
    cols = list(rows[0])
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            w.writerows([_as_text(r[c]) for c in cols] for r in rows)
    elif fmt == "xlsx":
        import xlsxwriter

        with xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True}) as wb:
            ws = wb.add_worksheet()
            date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
            ws.write_row(0, 0, cols)
            for i, r in enumerate(rows, 1):
                for j, c in enumerate(cols):
                    v = r[c]
                    if isinstance(v, (dt.date, dt.datetime)):
                        ws.write_datetime(i, j, v, date_fmt)
                    elif isinstance(v, bool):
                        ws.write_boolean(i, j, v)
                    elif isinstance(v, float) and math.isnan(v):
                        continue  # an empty cell, as pandas writes NaN
                    elif isinstance(v, (int, float)):
                        ws.write_number(i, j, v)
                    elif v is not None:
                        ws.write_string(i, j, str(v))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n"
                                for r in rows), encoding="utf-8")
    else:
        import polars as pl

        pl.DataFrame(rows).write_parquet(path)
    return path


def _ingest(kind: str, path: Path, tmp_path: Path) -> tuple[Any, dict[int, tuple[str, str]]]:
    from indexing.intake.ingest import ingest_files
    from indexing.intake.transfers import ingest_transfers

    if kind == "transfers":
        rep = ingest_transfers([path], None, rejects_dir=tmp_path / "rej",  # type: ignore[arg-type]
                               dry_run=True)
    else:
        rep = ingest_files(kind, [path], None, rejects_dir=tmp_path / "rej", dry_run=True)
    assert rep.balanced
    rejects: dict[int, tuple[str, str]] = {}
    if rep.rejects_path is not None:
        with rep.rejects_path.open(encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh):
                rejects[int(r["row"])] = (r["field"], r["reason"])
    return rep, rejects


def _check(outcome: tuple[str, str | None], case: Case, rep: Any,
           rejects: dict[int, tuple[str, str]], rownum: int) -> None:
    what, detail = outcome
    if what == "reject":
        assert rownum in rejects, f"{case[0]}: row {rownum} was not rejected ({rejects})"
        field, reason = rejects[rownum]
        assert detail in f"{field}: {reason}", (case[0], rejects[rownum])
    else:
        assert rownum not in rejects, f"{case[0]}: rejected: {rejects.get(rownum)}"
        if what == "coerce":
            assert rep.cleaned.get(detail, 0) >= 1, (case[0], rep.cleaned)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
@pytest.mark.parametrize("kind", list(CASES))
def test_typed_garbage_in_one_file(kind: str, fmt: str, tmp_path: Path) -> None:
    """Every case of a kind in one file (after one good row): each row gets its outcome."""
    text_format = fmt in ("csv", "xlsx")
    cases = [c for c in CASES[kind] if not (text_format and c[4] is None)]
    rows = [dict(GOOD[kind])] + [_row(kind, i, c) for i, c in enumerate(cases, 1)]
    path = _write(fmt, tmp_path / f"{kind}.{fmt}", rows)
    rep, rejects = _ingest(kind, path, tmp_path)
    first = 2 if text_format else 1
    assert first not in rejects, f"the good row was rejected: {rejects.get(first)}"
    outcomes = [_outcome(fmt, c) for c in cases]
    for i, (case, outcome) in enumerate(zip(cases, outcomes, strict=True), 1):
        _check(outcome, case, rep, rejects, first + i)
    assert rep.rejected == sum(1 for o in outcomes if o[0] == "reject")


def _outcome(fmt: str, case: Case) -> tuple[str, str | None]:
    if fmt == "jsonl":
        return case[3]
    value, outcome = case[2], case[4]
    assert outcome is not None
    if fmt == "xlsx" and isinstance(value, float) and math.isnan(value) and outcome[0] == "coerce":
        return ("ok", None)  # NaN is written as an empty cell, as pandas does: nothing to say
    return outcome


@pytest.mark.parametrize("kind,case", ALL, ids=[f"{k}-{c[0]}" for k, c in ALL])
def test_typed_garbage_in_parquet(kind: str, case: Case, tmp_path: Path) -> None:
    """Parquet columns have one type: each case is its own file (one row)."""
    path = _write("parquet", tmp_path / f"{kind}.parquet", [_row(kind, 1, case)])
    rep, rejects = _ingest(kind, path, tmp_path)
    _check(case[3], case, rep, rejects, 1)


def test_title_789_never_becomes_text(tmp_path: Path) -> None:
    """The finding itself: a Parquet patent file whose title column holds numbers."""
    import polars as pl

    from indexing.intake.ingest import read_records

    p = tmp_path / "p.parquet"
    pl.DataFrame({"id": ["P1", "P2"], "title": [789, 790], "abstract": ["摘要一", "摘要二"]}).write_parquet(p)
    records, rejects = read_records("patents", p)
    assert records == [] and [r.field for r in rejects] == ["title", "title"]
    assert "title is a number (789); expected text" in rejects[0].reason


@pytest.mark.parametrize("value,expected", [
    ("nan", None), ("#N/A", None), ("NULL", None), ("  None ", None), ("无", "无"),
    ("一种电池", "一种电池"), ("x" * 500, "x" * 500)])
def test_placeholders_are_empty_and_counted(value: str, expected: str | None) -> None:
    stats: dict[str, int] = {}
    assert check_cells({"budget": value}, stats) == {"budget": expected}
    assert bool(stats) == (expected is None)


@pytest.mark.parametrize("value,bad", [("789", True), ("-1,234.5", True), ("1e5", True),
                                       (".5", True), ("e0", False), ("3M公司", False),
                                       ("A1", False), ("2号", False)])
def test_only_a_number_means_only_a_number(value: str, bad: bool) -> None:
    from patmatch.errors import RecordValidationError

    if bad:
        with pytest.raises(RecordValidationError, match="only a number"):
            check_cells({"enterprise": value}, {})
    else:
        assert check_cells({"enterprise": value}, {}) == {"enterprise": value}
