"""Read raw patent/demand/transfer tables (CSV in any common Chinese encoding, XLSX, JSONL,
Parquet).

``read_table(path, kind)`` returns a ``RawTable``: one dict per data row with canonical
column names (header aliases resolved), the 1-based row number a person would look for,
and the row exactly as it arrived (for the rejects file). Blank rows are skipped and
counted, never silently: they carry no data. The roles: ``decoding`` (bytes -> text),
``formats`` (one reader per format), ``aliases`` + ``columns`` (header mapping).
"""

from __future__ import annotations

from pathlib import Path

from patmatch.errors import FileFormatError

from indexing.intake import formats
from indexing.intake.aliases import Kind
from indexing.intake.columns import RawTable, find_header, map_columns

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".xls": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, kind: Kind, *, auto_id: bool = False) -> RawTable:
    """Read one file. ``auto_id``: a file without any id column gets ids ``<stem>-<row>``
    (batch matching of a plain list of demand texts); ingest never uses it."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"file not found: {path}", details={"path": str(path)})
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise FileFormatError(
            f"{path.name}: unknown file type {path.suffix or '(no suffix)'!r}; expected one of "
            f"{sorted(set(SUFFIXES))}", details={"path": str(path)})
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path.name}: the file is empty; expected a header row and data rows")
    encoding: str | None
    if fmt in ("csv", "tsv"):
        headers, rows, encoding = formats.read_delimited(path, "\t" if fmt == "tsv" else ",")
        first_row = 2  # row 1 is the header, as a spreadsheet shows it
    elif fmt == "xlsx":
        headers, rows, encoding = formats.read_excel(path, keep_errors=True)
        formats.refuse_data_on_other_sheets(path, kind)
        first_row = 2
    elif fmt == "jsonl":
        headers, rows, encoding = formats.read_jsonl(path)
        first_row = 1
    else:
        headers, rows, encoding = formats.read_parquet(path)
        first_row = 1
    if fmt in ("csv", "tsv", "xlsx"):
        headers, rows, first_row = find_header(kind, headers, rows, first_row)
    return map_columns(path, kind, headers, rows, first_row=first_row, encoding=encoding,
                       auto_id=auto_id)
