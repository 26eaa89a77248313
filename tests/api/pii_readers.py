"""How the PII grep test reads an output: what a person (or a tool) can read out of a
file or an HTTP answer, and which planted values it holds (tests/api/test_pii_everywhere.py)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from tests.matcher.test_pii_outputs import NEEDLES as BASE_NEEDLES

ID15 = "110105491231002"  # the old 15-digit form (no check digit)
NEEDLES = (*BASE_NEEDLES, ID15)


def png_text(data: bytes) -> str:
    """A chart picture's readable text: its text chunks and metadata (the pixels are
    checked where the charts are drawn: tests/test_report_charts_pii.py)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return repr(img.info) + repr(getattr(img, "text", {}))


def text_of(path: Path) -> str:
    """What a person (or a tool) can read out of one file."""
    data = path.read_bytes()
    if path.suffix == ".png":
        return png_text(data)
    if path.suffix in (".xlsx", ".xlsm"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if path.suffix == ".parquet":
        import polars as pl

        return "\n".join(map(str, pl.read_parquet(path).rows()))
    return data.decode("utf-8", "replace")


def response_text(r: Any) -> str:
    ctype = r.headers.get("content-type", "")
    if "spreadsheet" in ctype:
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if "image/png" in ctype:
        return png_text(r.content)
    if "parquet" in ctype or r.content[:4] == b"PAR1":
        import polars as pl

        return "\n".join(map(str, pl.read_parquet(io.BytesIO(r.content)).rows()))
    return r.content.decode("utf-8", "replace")


def leaked_needles(text: str) -> list[str]:
    """The planted values found in ``text`` (digits also compared without separators)."""
    # JSON \uXXXX escapes decoded (chart options in the HTML report are ensure_ascii JSON)
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    flat = text.replace("-", "").replace(" ", "")
    return [n for n in NEEDLES if n in text or n in flat]
