"""Transfer events (专利转让 / 许可 / 开放许可 / 作价入股 / 质押) into the transfer table.

Same standards as patents and demands (``indexing.intake.ingest``): the same readers and
header aliases (``aliases.TRANSFER_ALIASES``), row-level rejects with a reason, and the
accounting ``read = accepted + updated + rejected + duplicates``. Each event gets a stable
id (``tables_transfers.event_id``), so re-ingesting a file changes nothing. Events whose
patent is in the store take its chains and holder type; the others are kept as they are.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patmatch.errors import InputError, RecordValidationError

from indexing.intake import normalize as nz
from indexing.intake.aliases import REQUIRED
from indexing.intake.cells import check_cells
from indexing.intake.findings import Findings
from indexing.intake.ingest import IngestReport
from indexing.intake.rejects import Reject, write_rejects
from indexing.intake.readers import read_table
from indexing.intake.regions import Region, resolve_region
from indexing.privacy import mask_pii
from indexing.store.tables_transfers import TransferEvent, TransferRepository, event_id
from labeling_spec.party_types import infer_party_type

# canonical event type -> group (what the statistics stack by)
EVENT_GROUPS: dict[str, str] = {"转让": "转让", "独占许可": "许可", "排他许可": "许可",
                                "普通许可": "许可", "开放许可": "开放许可", "作价入股": "作价入股",
                                "质押": "质押"}
_EVENT_ALIASES: dict[str, str] = {
    "转让": "转让", "专利权转让": "转让", "专利申请权转让": "转让", "权利转移": "转让", "转移": "转让",
    "专利权转移": "转让", "transfer": "转让", "assignment": "转让",
    "独占许可": "独占许可", "独占实施许可": "独占许可", "独占": "独占许可", "exclusive": "独占许可",
    "排他许可": "排他许可", "排他实施许可": "排他许可", "排他": "排他许可", "sole": "排他许可",
    "普通许可": "普通许可", "普通实施许可": "普通许可", "普通": "普通许可", "non-exclusive": "普通许可",
    "许可": "普通许可", "实施许可": "普通许可", "专利实施许可": "普通许可", "license": "普通许可",
    "开放许可": "开放许可", "open license": "开放许可", "open licence": "开放许可",
    "作价入股": "作价入股", "作价投资": "作价入股", "入股": "作价入股", "equity": "作价入股",
    "质押": "质押", "专利权质押": "质押", "质押登记": "质押", "质押融资": "质押", "pledge": "质押",
}
_KIND_TO_TYPE = {"独占": "独占许可", "排他": "排他许可", "普通": "普通许可", "分许可": "普通许可",
                 "交叉": "普通许可"}
_PATENT_NO = re.compile(r"^(?:ZL|CN)?\s*", re.IGNORECASE)
_AMOUNT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(万元|万|元)?$")
_NO_AMOUNT = {"", "-", "—", "面议", "未披露", "不详", "无", "/"}
SOURCES = ("cnipa", "platform")


def patent_key(number: str) -> str:
    """``ZL 2018 1012 3456.7`` / ``CN201810123456.7`` -> ``201810123456.7`` (join key)."""
    s = re.sub(r"\s+", "", nz.to_half_width(number)).upper()
    return _PATENT_NO.sub("", s)


def _fail(field_: str, reason: str) -> RecordValidationError:
    return RecordValidationError(reason, details={"field": field_})


def _one_line_text(v: Any) -> str | None:
    """A transfer cell as cleaned text on one line (a whole float as an integer)."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return nz.clean_text(str(v), keep_newlines=False)


def event_type(value: Any, kind: Any = None) -> str:
    s = _one_line_text(value)
    if not s:
        raise _fail("event_type", "required field event_type is missing or empty")
    key = s.lower().replace("（", "(").split("(")[0].strip()
    canon = _EVENT_ALIASES.get(key)
    inner = re.search(r"[（(](.+?)[)）]", s)  # 许可（独占）
    if canon == "普通许可" and (inner or kind):
        k = _one_line_text(kind) or (inner.group(1) if inner else "")
        k = k.replace("许可", "").replace("实施", "").strip()
        canon = _KIND_TO_TYPE.get(k, canon) if k else canon
    if canon is None:
        raise _fail("event_type", f"unknown event type {s!r}; expected one of 转让, 独占许可, "
                    "排他许可, 普通许可, 开放许可, 作价入股, 质押 (or 许可 with 许可种类)")
    return canon


def amount(value: Any) -> float | None:
    """万元. ``50`` / ``50万元`` / ``1,200.5`` / ``500000元`` (-> 50); 面议/blank -> None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
    else:
        s = (_one_line_text(value) or "").replace(",", "").replace("，", "")
        if s in _NO_AMOUNT:
            return None
        m = _AMOUNT.match(s)
        if not m:
            raise _fail("amount_wan", f"contract amount {s!r} is not a number of 万元 "
                        "(e.g. 50, 50万元, 500000元)")
        x = float(m.group(1)) / (10_000 if m.group(2) == "元" else 1)
    if x != x or x in (float("inf"), float("-inf")):
        raise _fail("amount_wan", "contract amount is not a finite number")
    if x < 0:
        raise _fail("amount_wan", f"contract amount {x:g} 万元 is negative")
    return round(x, 4)


def _region(row: dict[str, Any], side: str) -> tuple[str | None, Region]:
    addr = _one_line_text(row.get(f"{side}_address"))
    if not addr:
        return None, Region(None, None, None)
    reg = resolve_region(addr)
    if not reg.resolved:
        raise _fail(f"{side}_address", f"{side} address {addr!r} resolves to no province, city "
                    "or district of China")
    return addr, reg


@dataclass
class PatentIndex:
    """What the store knows of a patent: chains (labels) and holder type, by number key."""

    by_key: dict[str, tuple[tuple[str, ...], str | None]] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Any) -> PatentIndex:
        labels = store.load_labels("patents")
        idx: dict[str, tuple[tuple[str, ...], str | None]] = {}
        for rec in store.iter_patents():
            chains = tuple((labels.get(rec.id) or {}).get("chains") or ())
            idx[patent_key(rec.id)] = (chains, rec.applicant_type)
        return cls(idx)

    def get(self, number: str) -> tuple[tuple[str, ...], str | None] | None:
        return self.by_key.get(patent_key(number))


def to_event(row: dict[str, Any], *, source: str, patents: PatentIndex | None,
             stats: dict[str, int] | None = None) -> TransferEvent:
    # typed cells (indexing.intake.cells)
    row = check_cells(row, {} if stats is None else stats, required=REQUIRED["transfers"])
    pid = _one_line_text(row.get("patent_id"))
    if not pid:
        raise _fail("patent_id", "required field patent_id is missing or empty")
    pid = re.sub(r"\s+", "", pid)
    if len(pid) > 64 or not re.fullmatch(r"[\w.\-/]+", pid):
        raise _fail("patent_id", f"patent number {pid[:80]!r} is not a patent number")
    etype = event_type(row.get("event_type"), row.get("license_kind"))
    date = nz.normalize_date(row.get("effective_date"), field="effective_date")
    if date is None:
        raise _fail("effective_date", "required field effective_date is missing or empty")
    parties = {}
    for side in ("assignor", "assignee"):
        name = _one_line_text(row.get(side))
        if not name:
            raise _fail(side, f"required field {side} is missing or empty")
        if len(name) > 500:
            raise _fail(side, f"{side} is {len(name)} characters; the limit is 500")
        parties[side] = mask_pii(name) or name  # the one detector on every free-text field
    a_addr, a_reg = _region(row, "assignor")
    b_addr, b_reg = _region(row, "assignee")
    a_addr, b_addr = mask_pii(a_addr), mask_pii(b_addr)  # regions read before masking
    src = (mask_pii(_one_line_text(row.get("source"))) or source)[:32]
    known = patents.get(pid) if patents is not None else None
    return TransferEvent(
        id=event_id(patent_key(pid), etype, date, parties["assignor"], parties["assignee"]),
        patent_id=pid, event_type=etype, event_group=EVENT_GROUPS[etype], effective_date=date,
        assignor=parties["assignor"], assignee=parties["assignee"], source=src,
        assignor_type=infer_party_type(parties["assignor"]), assignor_address=a_addr,
        assignor_province=a_reg.province, assignor_city=a_reg.city,
        assignor_district=a_reg.district,
        assignee_type=infer_party_type(parties["assignee"]), assignee_address=b_addr,
        assignee_province=b_reg.province, assignee_city=b_reg.city,
        assignee_district=b_reg.district,
        amount_wan=amount(row.get("amount_wan")),
        source_ref=(_one_line_text(row.get("source_ref")) or None),
        patent_known=known is not None, chains=known[0] if known else (),
        holder_type=known[1] if known else None)


def validate_rows(rows: Sequence[tuple[int, dict[str, Any], dict[str, Any]]], name: str, *,
                  patents: PatentIndex | None, seen: dict[str, str], rejects: list[Reject],
                  source: str | None = None, stats: dict[str, int] | None = None,
                  findings: Findings | None = None,
                  columns: dict[str, str] | None = None) -> tuple[list[TransferEvent], int]:
    """Rows -> events; rejects and repeated events appended to ``rejects``; ``stats``
    counts the rows whose cells were coerced, per kind of coercion; ``findings`` also
    keeps their first rows and the Excel error cells (``columns``: field -> header)."""
    events: list[TransferEvent] = []
    repeated = 0
    for rownum, row, raw in rows:
        if "__error__" in row:
            rejects.append(Reject(name, rownum, "(row)", row["__error__"], raw))
            continue
        if findings is not None:
            findings.excel_cells(name, rownum, row, columns or {}, REQUIRED["transfers"])
        row_stats: dict[str, int] = {}
        try:
            ev = to_event(row, source=source or name, patents=patents, stats=row_stats)
        except RecordValidationError as exc:
            rejects.append(Reject(name, rownum, str(exc.details.get("field", "?")), exc.message,
                                  raw))
            continue
        except (TypeError, ValueError, OverflowError) as exc:
            rejects.append(Reject(name, rownum, "(row)", f"unexpected value: "
                                  f"{type(exc).__name__}: {exc}", raw))
            continue
        if stats is not None:
            for what in row_stats:
                stats[what] = stats.get(what, 0) + 1
        if findings is not None:
            findings.add_row(name, rownum, row_stats)
        if ev.id in seen:
            repeated += 1
            rejects.append(Reject(name, rownum, "id", f"the same event (patent, type, date, "
                                  f"parties) as {seen[ev.id]}: the first was kept", raw,
                                  kind="duplicate"))
            continue
        seen[ev.id] = f"{name}:{rownum}"
        events.append(ev)
    return events, repeated


def ingest_transfers(paths: Sequence[str | Path], repo: TransferRepository, *,
                     patents: PatentIndex | None = None, rejects_dir: str | Path | None = None,
                     dry_run: bool = False,
                     progress: Callable[[str], None] | None = None) -> IngestReport:
    """Read and validate every file, then store all accepted events in one transaction."""
    if not paths:
        raise InputError("no input files given; expected one or more CSV/XLSX/JSONL/Parquet files")
    t0 = time.perf_counter()
    rejects: list[Reject] = []
    seen: dict[str, str] = {}
    events: list[TransferEvent] = []
    read = blank = repeated = 0
    findings = Findings()
    tables = [read_table(p, "transfers") for p in paths]  # file-level errors before any row
    for table in tables:
        read += len(table.rows)
        blank += table.blank_rows
        got, rep = validate_rows(table.rows, table.path.name, patents=patents, seen=seen,
                                 rejects=rejects, findings=findings,
                                 columns={f: h for h, f in table.columns.items()})
        events += got
        repeated += rep
        table.rows.clear()  # a 1M-row ingest keeps one copy of the data, not two
        if progress:
            progress(f"{table.path.name}: {len(got)} events")
    rejects_path = None
    if rejects_dir is not None and rejects:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        rejects_path = write_rejects(rejects, Path(rejects_dir) / f"rejects-transfers-{stamp}.csv",
                                     "transfers")
    if dry_run:
        inserted, updated, unchanged = len(events), 0, 0
    else:
        repo.create()
        c = repo.upsert(events)
        inserted, updated, unchanged = c.inserted, c.updated, c.unchanged
    rejected = sum(1 for r in rejects if r.kind == "rejected")
    report = IngestReport(
        read=read, accepted=inserted, updated=updated, rejected=rejected,
        duplicates=repeated + unchanged, unchanged=unchanged, rejects_path=rejects_path,
        duplicate_texts=[], kind="transfers", blank_rows=blank, repeated_ids=repeated,
        files=tuple(str(p) for p in paths), cleaned=findings.counts, dry_run=dry_run,
        seconds=round(time.perf_counter() - t0, 3), cleaned_rows=findings.rows,
        excel_errors=findings.excel_errors, excel_error_cells=findings.excel_error_cells)
    assert report.balanced, report.equation()
    return report


__all__ = ["EVENT_GROUPS", "SOURCES", "PatentIndex", "amount", "event_type", "ingest_transfers",
           "patent_key", "to_event", "validate_rows"]
