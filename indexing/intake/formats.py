"""One reader per file format: (headers, rows as dicts, encoding) exactly as the file has
them, before any header mapping (``indexing.intake.columns``)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from patmatch.errors import FileFormatError

from indexing.intake.aliases import Kind, known_fields
from indexing.intake.cells import ExcelError
from indexing.intake.decoding import decode_bytes


def _frame_rows(df: Any) -> list[dict[str, Any]]:
    return df.to_dicts()


def read_delimited(path: Path, sep: str) -> tuple[list[str], list[dict[str, Any]], str]:
    import polars as pl

    text, enc = decode_bytes(path.read_bytes(), path)
    if not text.strip():
        raise FileFormatError(f"{path.name}: the file is empty; expected a header row and data rows")
    if sep == "," and _looks_tab_separated(text):
        sep = "\t"
    try:
        # strict about ragged lines: truncating them would silently lose cells
        df = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=sep, infer_schema=False,
                         truncate_ragged_lines=False, quote_char='"')
    except pl.exceptions.PolarsError:
        return (*_read_ragged(text, sep), enc)
    return df.columns, _frame_rows(df), enc


def _looks_tab_separated(text: str) -> bool:
    head = text.split("\n", 1)[0]
    return "\t" in head and "," not in head


def _read_ragged(text: str, sep: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows longer than the header (a title line above the table, a stray comma): the
    extra cells get ``column_N`` names so they stay in the raw row, nothing is cut."""
    lines = list(csv.reader(io.StringIO(text), delimiter=sep))
    width = max(len(r) for r in lines)
    header = [h if h else f"column_{i + 1}" for i, h in enumerate(lines[0])]
    header += [f"column_{i + 1}" for i in range(len(header), width)]
    rows = [{header[i]: (v if v != "" else None) for i, v in enumerate(r)} for r in lines[1:]]
    return header, rows


def read_excel(path: Path, *, keep_errors: bool = False
               ) -> tuple[list[str], list[dict[str, Any]], str | None]:
    """The first sheet, every cell as the text Excel shows (ids like 0012 and dates
    survive). Error cells (``#DIV/0!``, ``#N/A`` ...) are ``cells.ExcelError`` with
    ``keep_errors`` (ingest and batch reading: the cell rules decide and the report says
    so), else empty."""
    import fastexcel
    import polars as pl

    try:
        sheet = fastexcel.read_excel(path).load_sheet(0, dtypes="string")
        batch, cell_errors = sheet.to_arrow_with_errors()
    except Exception as exc:  # fastexcel raises its own types for corrupt/encrypted files
        raise FileFormatError(f"{path.name}: not a readable Excel workbook ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    df = pl.DataFrame(batch)
    errors: dict[tuple[int, str], ExcelError] = {}
    for err in (cell_errors.errors if cell_errors is not None else ()):
        row, col = err.offset_position  # data row, column: both 0-based
        errors[(row, df.columns[col])] = ExcelError.from_detail(err.detail)
    with_errors = {name for _, name in errors}
    # like polars.read_excel: a column without a header and without a value is not data
    df = df.drop([c for c in df.columns if _unnamed(c) and c not in with_errors
                  and df[c].null_count() == df.height])
    rows = _frame_rows(df)
    if keep_errors:
        for (row, name), value in errors.items():
            rows[row][name] = value
    return df.columns, rows, None


def _unnamed(column: str) -> bool:
    return column == "" or re.match(r"(_duplicated_|__UNNAMED__)\d+$", column) is not None


def refuse_data_on_other_sheets(path: Path, kind: Kind) -> None:
    """Only the first sheet is read. A later sheet whose first rows carry this kind's
    columns would be silently ignored: refuse the workbook and name the sheet (sheets
    without such columns, e.g. 填表说明, are left alone)."""
    import polars as pl

    try:
        sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=0, drop_empty_rows=True,
                               raise_if_empty=False, has_header=False)
    except Exception:  # noqa: BLE001 - the first sheet was readable; this is a check only
        return
    names = list(sheets)
    for name in names[1:]:
        df = sheets[name]
        head = [v for row in df.head(6).rows() for v in row if v is not None]
        if df.height >= 2 and known_fields(kind, head) & {"id", "text", "title", "abstract"}:
            raise FileFormatError(
                f"{path.name}: 工作表 “{name}” 也有{'需求' if kind == 'demands' else '专利'}数据，"
                f"但只读取第一个工作表 “{names[0]}”；请把数据合并到第一个工作表，或每个工作表另存为一个文件",
                details={"path": str(path), "sheets": names, "ignored_sheet": name})


def read_jsonl(path: Path) -> tuple[list[str], list[dict[str, Any]], str]:
    text, enc = decode_bytes(path.read_bytes(), path)
    stripped = text.lstrip()
    if stripped.startswith("["):  # a plain JSON array of objects is accepted too
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"{path.name}: invalid JSON ({exc})") from None
        lines = [(i + 1, obj) for i, obj in enumerate(items)]
    else:
        lines = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                lines.append((i, {}))
                continue
            try:
                lines.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                # one broken line becomes a reject, not a failed file
                lines.append((i, {"__error__": f"invalid JSON on line {i}: {exc.msg}",
                                  "__raw__": line[:2000]}))
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for _, obj in lines:
        if not isinstance(obj, dict):
            obj = {"__error__": f"expected a JSON object per line, got {type(obj).__name__}"}
        for k in obj:
            if k not in columns and not k.startswith("__"):
                columns.append(k)
        rows.append(obj)
    if not any(rows):
        raise FileFormatError(f"{path.name}: no data rows (only blank lines); expected one JSON "
                              "object per line")
    return columns, rows, enc


def read_parquet(path: Path) -> tuple[list[str], list[dict[str, Any]], None]:
    import polars as pl

    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise FileFormatError(f"{path.name}: not a readable Parquet file ({exc})") from None
    return df.columns, _frame_rows(df), None
