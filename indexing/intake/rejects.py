"""Rows that did not become records: the ``Reject`` entry and the rejects file.

Every rejected or duplicate row is written with its source file, row number, field,
reason and the raw row, personal fields masked; the file holds records, so it is 0600.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patmatch.atomic_io import PRIVATE, atomic_write_text

from indexing.intake.aliases import aliases_for, header_key
from indexing.privacy import mask_email, mask_name, mask_phone, mask_pii


@dataclass(frozen=True)
class Reject:
    source: str
    row: int
    field: str
    reason: str
    raw: dict[str, Any]
    kind: str = "rejected"  # or "duplicate"


_PERSONAL_HEADERS: dict[str, Any] = {"contact_name": mask_name, "contact_phone": mask_phone,
                                     "contact_email": mask_email}


def _masked_raw(raw: dict[str, Any], kind: str) -> dict[str, Any]:
    personal = {}
    if kind == "demands":
        al = aliases_for("demands")
        personal = {header_key(a): f for f in _PERSONAL_HEADERS for a in al[f]}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        f = personal.get(header_key(k))
        if f is not None and v is not None:
            v = _PERSONAL_HEADERS[f](str(v))
        elif isinstance(v, (str, int)) and not isinstance(v, bool):
            masked = mask_pii(str(v))  # a phone may arrive as a Parquet integer
            v = masked if masked != str(v) else v
        out[k] = v
    return out


def write_rejects(rejects: Iterable[Reject], path: Path, kind: str) -> Path:
    """CSV (UTF-8 with BOM so Excel opens it): status, source, row, field, reason, raw JSON."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["status", "source", "row", "field", "reason", "raw"])
    for r in rejects:
        w.writerow([r.kind, r.source, r.row, r.field, mask_pii(r.reason),
                    json.dumps(_masked_raw(r.raw, kind), ensure_ascii=False, default=str)])
    # rejected rows are records (masked): owner-only, like every file holding records
    atomic_write_text(path, buf.getvalue(), mode=PRIVATE, encoding="utf-8-sig")
    return path
