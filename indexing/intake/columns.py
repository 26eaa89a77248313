"""Raw rows -> canonical rows: find the header line, map aliased headers onto fields,
take ids from URL columns, unpack packed text, count blank rows (``RawTable``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patmatch.errors import FileFormatError, MissingColumnError

from indexing.intake.aliases import (REQUIRED, URL_ID_HEADERS, Kind, aliases_for, header_key,
                                     known_fields)

# columns that carry a publication number inside a URL (CNKI: ...&filename=CN108982325A)
_URL_ID = re.compile(r"(?:filename=|/)((?:CN|WO|US|EP|JP|KR)\d{5,}[A-Z]?\d?)", re.IGNORECASE)

@dataclass
class RawTable:
    path: Path
    columns: dict[str, str]            # original header -> canonical field
    ignored_columns: list[str]
    rows: list[tuple[int, dict[str, Any], dict[str, Any]]]  # (row number, canonical, raw)
    blank_rows: int = 0
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


# --- packed text (CPC CSV: "Title: ...\nKeywords: ...\nAbstract: ..." or "a [SEP] b [SEP] c")
_PACKED = re.compile(r"^\s*Title:\s*(?P<title>.*?)\s*(?:Keywords:.*?)?\s*Abstract:\s*(?P<abstract>.*)$",
                     re.DOTALL)


def unpack_text(text: str) -> tuple[str | None, str | None]:
    m = _PACKED.match(text)
    if m:
        return m["title"].strip() or None, m["abstract"].strip() or None
    parts = [p.strip() for p in text.split("[SEP]")]
    if len(parts) >= 2:
        return parts[0] or None, parts[-1] or None
    return None, text.strip() or None


def find_header(kind: Kind, headers: list[str], rows: list[dict[str, Any]],
                 first_row: int) -> tuple[list[str], list[dict[str, Any]], int]:
    """Office spreadsheets often put a title line (企业技术需求汇总表) or notes above the
    real header. When the first line does not name the required columns but one of the
    next 10 lines does, that line is the header and the rows above it are dropped."""
    required = set(REQUIRED[kind])
    if required <= known_fields(kind, headers):
        return headers, rows, first_row
    keys = list(dict.fromkeys([*headers, *(key for r in rows for key in r)]))
    for k, row in enumerate(rows[:10]):
        cells = [row.get(key) for key in keys]
        if required - {"id"} <= known_fields(kind, cells):
            names, seen = [], set()
            for i, c in enumerate(cells):
                name = str(c).strip() if c not in (None, "") else f"column_{i + 1}"
                name = name if name not in seen else f"{name}_{i + 1}"
                seen.add(name)
                names.append(name)
            body = [{names[i]: r.get(key) for i, key in enumerate(keys)} for r in rows[k + 1:]]
            return names, body, first_row + k + 1
    return headers, rows, first_row


def _is_blank(row: dict[str, Any]) -> bool:
    for v in row.values():
        if v is None:
            continue
        if isinstance(v, str) and not v.strip():
            continue
        if isinstance(v, (list, tuple)) and not v:
            continue
        return False
    return True


def map_columns(path: Path, kind: Kind, headers: Iterable[str], rows: list[dict[str, Any]], *,
                first_row: int, encoding: str | None, auto_id: bool = False) -> RawTable:
    aliases = aliases_for(kind)
    lookup = {header_key(a): f for f, names in aliases.items() for a in names}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    url_col: str | None = None
    headers = list(headers)
    for h in headers:
        f = lookup.get(header_key(h))
        if f is not None and f not in taken:
            columns[h] = f
            taken.add(f)
        elif header_key(h) in {header_key(u) for u in URL_ID_HEADERS}:
            url_col = h
        else:
            ignored.append(h)
    notes: list[str] = []
    packed_col: str | None = None
    if kind == "patents" and not {"title", "abstract"} & taken:
        for h in ignored:
            if header_key(h) in ("text", "content", "全文", "文本"):
                packed_col = h
                notes.append(f"title/abstract unpacked from column {h!r}")
                break
    if "id" not in taken and url_col is not None:
        notes.append(f"id taken from the publication number in column {url_col!r}")
    make_id = auto_id and "id" not in taken and url_col is None
    if make_id:
        notes.append(f"no id column: ids generated as {path.stem}-<row>")
    required = REQUIRED[kind]
    missing = [f for f in required if f not in taken
               and not (f == "id" and (url_col or make_id)) and not (f in ("title", "abstract") and packed_col)]
    if missing:
        raise MissingColumnError(
            f"{path.name}: missing required column(s) {missing} for {kind}; found columns "
            f"{headers}",
            details={f"aliases tried for {f}": ", ".join(aliases[f]) for f in missing},
        )
    out: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    blank = 0
    for i, raw in enumerate(rows):
        if "__error__" not in raw and _is_blank(raw):
            blank += 1
            continue
        row = {columns[h]: v for h, v in raw.items() if h in columns}
        if "__error__" in raw:
            row["__error__"] = raw["__error__"]
        if url_col is not None and not row.get("id"):
            m = _URL_ID.search(str(raw.get(url_col) or ""))
            row["id"] = m.group(1).upper() if m else None
        if make_id:
            row["id"] = f"{path.stem}-{first_row + i}"
        if packed_col is not None and isinstance(raw.get(packed_col), str):
            row["title"], row["abstract"] = unpack_text(raw[packed_col])
        out.append((first_row + i, row, raw))
    if not out:
        raise FileFormatError(
            f"{path.name}: no data rows (header {headers}"
            f"{f' and {blank} blank rows' if blank else ''}); expected at least one record",
            details={"path": str(path)})
    return RawTable(path=path, columns=columns, ignored_columns=ignored, rows=out,
                    blank_rows=blank, encoding=encoding, notes=notes)
