"""The one table writer: a polars DataFrame to ``.parquet``, ``.csv`` or ``.xlsx``, atomically.

CSV is UTF-8 with a BOM, so Excel on Chinese Windows opens it without mojibake. The
format follows the file's suffix; anything else is refused with the list of suffixes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patmatch.atomic_io import atomic_path, atomic_write_bytes
from patmatch.errors import InputError

TABLE_SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".xlsx")
UTF8_BOM = b"\xef\xbb\xbf"


def check_table_suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"a table file must end with {', '.join(TABLE_SUFFIXES)}; "
                         f"got {Path(path).name!r}", details={"path": str(path)})
    return suffix


def write_table(df: Any, path: str | Path, *, sheet: str = "Sheet1",
                mode: int | None = None) -> Path:
    """Write ``df`` (a polars DataFrame) to ``path``; ``sheet`` names the XLSX worksheet."""
    path = Path(path)
    suffix = check_table_suffix(path)
    if suffix == ".csv":
        atomic_write_bytes(path, UTF8_BOM + df.write_csv().encode("utf-8"), mode=mode)
    else:
        with atomic_path(path, mode=mode) as tmp:
            if suffix == ".parquet":
                df.write_parquet(tmp)
            else:
                df.write_excel(tmp, worksheet=sheet[:31])
    return path


def write_workbook(path: str | Path, sheets: dict[str, Any], *,
                   mode: int | None = None) -> Path:
    """Several DataFrames as the sheets of one ``.xlsx`` (sheet names cut to Excel's 31)."""
    import xlsxwriter

    path = Path(path)
    with atomic_path(path, mode=mode) as tmp:
        with xlsxwriter.Workbook(str(tmp)) as workbook:
            for name, df in sheets.items():
                df.write_excel(workbook, worksheet=name[:31])
    return path
