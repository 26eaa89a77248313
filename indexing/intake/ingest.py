"""Ingestion with nothing lost: read -> validate/normalise -> dedupe -> one transaction.

Accounting (printed by the CLI, asserted by the tests)::

    read = accepted + updated + rejected + duplicates
    duplicates = repeated ids in the input + rows already stored unchanged

``read`` counts non-blank data rows; blank rows are reported separately (they carry
nothing). Every rejected or duplicate row is written to the rejects file
(``indexing.intake.rejects``); the rules of one row are ``indexing.intake.validation``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from patmatch.errors import InputError, RecordValidationError

from indexing.intake.aliases import REQUIRED
from indexing.intake.findings import Findings
from indexing.intake.readers import RawTable, read_table
from indexing.intake.rejects import Reject, write_rejects
from indexing.intake.validation import to_demand, to_patent

Kind = Literal["patents", "demands"]


@dataclass(frozen=True)
class IngestReport:
    read: int
    accepted: int
    updated: int
    rejected: int
    duplicates: int
    unchanged: int
    rejects_path: Path | None
    duplicate_texts: list[tuple[str, str]]
    kind: str = "patents"
    blank_rows: int = 0
    repeated_ids: int = 0
    files: tuple[str, ...] = ()
    cleaned: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    seconds: float = 0.0
    # the first rows (``file:row``) behind each ``cleaned`` counter (indexing.intake.findings)
    cleaned_rows: dict[str, list[str]] = field(default_factory=dict)
    # Excel error cells: source, row, column, field, error, action (rejected | empty)
    excel_errors: list[dict[str, Any]] = field(default_factory=list)
    excel_error_cells: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.updated + self.rejected + self.duplicates

    def equation(self) -> str:
        return (f"read {self.read} = accepted {self.accepted} + updated {self.updated} + "
                f"rejected {self.rejected} + duplicates {self.duplicates}")

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


# --- reading and validating ------------------------------------------------------------
_PROGRESS_STEP = 500  # rows between two progress callbacks


@dataclass
class _ValidatedBatch:
    kind: str
    records: list[Any] = field(default_factory=list)
    first_seen: dict[str, str] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    blank: int = 0
    repeated: int = 0
    findings: Findings = field(default_factory=Findings)

    def add_table(self, table: RawTable, progress: Any = None) -> None:
        convert = to_patent if self.kind == "patents" else to_demand
        name = table.path.name
        headers = {f: h for h, f in table.columns.items()}
        self.blank += table.blank_rows
        for k, (rownum, row, raw) in enumerate(table.rows, 1):
            if progress is not None and k % _PROGRESS_STEP == 0:
                progress(0, _PROGRESS_STEP)
            self.read += 1
            if "__error__" in row:
                self.rejects.append(Reject(name, rownum, "(row)", row["__error__"], raw))
                continue
            self.findings.excel_cells(name, rownum, row, headers, REQUIRED[self.kind])
            row_stats: dict[str, int] = {}
            try:
                rec = convert(row, source=name, stats=row_stats)
            except RecordValidationError as exc:
                self.rejects.append(Reject(name, rownum, str(exc.details.get("field", "?")),
                                           exc.message, raw))
                continue
            except (TypeError, ValueError, OverflowError) as exc:
                # a cell type no rule foresaw (a Parquet struct, a huge number): this row is
                # rejected with the reason, the rest of the file goes on
                self.rejects.append(Reject(name, rownum, "(row)", "unexpected value: "
                                           f"{type(exc).__name__}: {exc}", raw))
                continue
            # counted per row, however many fields were cleaned; the first rows kept
            self.findings.add_row(name, rownum, row_stats)
            where = f"{name}:{rownum}"
            if rec.id in self.first_seen:
                self.repeated += 1
                self.rejects.append(Reject(
                    name, rownum, "id", f"duplicate id {rec.id!r}: the first occurrence at "
                    f"{self.first_seen[rec.id]} was kept", raw, kind="duplicate"))
                continue
            self.first_seen[rec.id] = where
            self.records.append(rec)
        if progress is not None:
            progress(0, len(table.rows) % _PROGRESS_STEP)


def read_records(kind: Kind, path: str | Path, *, auto_id: bool = False
                 ) -> tuple[list[Any], list[Reject]]:
    """Parse, validate and normalise one file without storing anything.

    Batch matching reuses this: the same aliases, limits and rejects as ``ingest``.
    Repeated ids keep their first occurrence; the others come back as rejects with
    ``kind="duplicate"``. ``auto_id=True`` accepts a file with no id column (ids become
    ``<file stem>-<row>``).
    """
    _check_kind(kind)
    batch = _ValidatedBatch(kind)
    batch.add_table(read_table(path, kind, auto_id=auto_id))
    return batch.records, batch.rejects


def _check_kind(kind: str) -> None:
    if kind not in ("patents", "demands"):
        raise InputError(f"kind must be 'patents' or 'demands', got {kind!r}")


def _text_duplicates(kind: str, records: Sequence[Any], store: Any) -> list[tuple[str, str]]:
    from indexing.store.record_store import text_digest

    digests = {r.id: text_digest(r.text if kind == "patents" else r.query_text) for r in records}
    pairs: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for rid, sha in digests.items():
        if sha in seen:
            pairs.append((rid, seen[sha]))
        else:
            seen[sha] = rid
    if store is not None:
        in_batch = {a for a, _ in pairs}
        for rid, other in store.find_text_duplicates(kind, digests).items():
            if rid not in in_batch and other not in digests:
                pairs.append((rid, other))
    return pairs


# --- ingest ------------------------------------------------------------------------------
def ingest_files(kind: Kind, paths: Sequence[str | Path], store: Any, *,
                 rejects_dir: str | Path | None, dry_run: bool = False,
                 progress: Any = None) -> IngestReport:
    """Read every file, then upsert all accepted rows in ONE transaction.

    A file-level problem (unknown type, encoding, missing column) raises before anything
    is written, for all files together. With ``dry_run`` nothing is stored; the counts
    are what a real run would report.
    ``progress(found, done)`` (a progress bar) hears, as increments, the rows of each file
    once it is read and the rows validated so far (every 500); storing is not counted.
    """
    _check_kind(kind)
    if not paths:
        raise InputError("no input files given; expected one or more CSV/XLSX/JSONL/Parquet files")
    t0 = time.perf_counter()
    batch = _ValidatedBatch(kind)
    for p in paths:
        table = read_table(p, kind)
        if progress is not None:  # progress(rows found, rows validated), as increments
            progress(len(table.rows), 0)
        batch.add_table(table, progress)
    dup_texts = _text_duplicates(kind, batch.records, store)
    rejects_path = None
    if rejects_dir is not None and batch.rejects:
        # written before the commit: a stored batch never exists without its rejects
        stamp = time.strftime("%Y%m%dT%H%M%S")
        rejects_path = write_rejects(batch.rejects, Path(rejects_dir) / f"rejects-{kind}-{stamp}"
                                     f"-{os.getpid()}.csv", kind)
    if dry_run:
        inserted = updated = unchanged = 0
        for rec in batch.records:
            old = _stored(store, kind, rec.id)
            if old is None:
                inserted += 1
            elif old == (dataclasses.replace(rec, source=old.source) if kind == "patents" else
                         dataclasses.replace(rec, source=old.source, owner=old.owner,
                                             status=old.status)):
                unchanged += 1
            else:
                updated += 1
    else:
        counts = (store.upsert_patents if kind == "patents" else store.upsert_demands)(batch.records)
        inserted, updated, unchanged = counts.inserted, counts.updated, counts.unchanged
    rejected = sum(1 for r in batch.rejects if r.kind == "rejected")
    report = IngestReport(
        read=batch.read, accepted=inserted, updated=updated, rejected=rejected,
        duplicates=batch.repeated + unchanged, unchanged=unchanged, rejects_path=rejects_path,
        duplicate_texts=dup_texts, kind=kind, blank_rows=batch.blank, repeated_ids=batch.repeated,
        files=tuple(str(p) for p in paths), cleaned=dict(batch.findings.counts), dry_run=dry_run,
        seconds=round(time.perf_counter() - t0, 3), cleaned_rows=batch.findings.rows,
        excel_errors=batch.findings.excel_errors,
        excel_error_cells=batch.findings.excel_error_cells)
    assert report.balanced, report.equation()  # an accounting bug must never pass silently
    return report


def _stored(store: Any, kind: str, rid: str) -> Any:
    if store is None:
        return None
    return store.get_patent(rid) if kind == "patents" else store.get_demand(rid)
