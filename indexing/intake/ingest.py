"""Ingestion with nothing lost: read -> validate/normalise -> dedupe -> one transaction.

Accounting (printed by the CLI, asserted by the tests)::

    read = accepted + updated + rejected + duplicates
    duplicates = repeated ids in the input + rows already stored unchanged

``read`` counts non-blank data rows; blank rows are reported separately (they carry
nothing). Every rejected or duplicate row is written to the rejects file with its source
file, row number, field, reason and the raw row (personal fields masked).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from patmatch.atomic_io import PRIVATE, atomic_write_text
from patmatch.errors import InputError, RecordValidationError

from indexing.intake import normalize as nz
from indexing.privacy import (mask_email, mask_free_text, mask_id_numbers, mask_name,
                              mask_phone, mask_pii)
from indexing.intake.readers import RawTable, read_table
from indexing.records import DemandRecord, PatentRecord

Kind = Literal["patents", "demands"]

# Size limits in characters, after cleaning (docs/ingestion.md). Longer means a broken
# export (a whole document in one cell), not a patent: reject rather than truncate.
LIMITS: dict[str, int] = {
    "id": 64, "title": 500, "abstract": 10_000, "claims": 200_000, "text": 20_000,
}
DEFAULT_LIMIT = 2_000  # any other text field
LONG_TEXT_FIELDS = ("title", "abstract", "claims", "text")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ID_OK = re.compile(r"^[\w.\-/:#]+$")


@dataclass(frozen=True)
class Reject:
    source: str
    row: int
    field: str
    reason: str
    raw: dict[str, Any]
    kind: str = "rejected"  # or "duplicate"


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

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.updated + self.rejected + self.duplicates

    def equation(self) -> str:
        return (f"read {self.read} = accepted {self.accepted} + updated {self.updated} + "
                f"rejected {self.rejected} + duplicates {self.duplicates}")

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


# --- value coercion ----------------------------------------------------------------------
def _s(value: Any) -> str | None:
    """Any cell (str, number, list, None) as a cleaned single string."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = "；".join(str(v) for v in value if v is not None)
    s = nz.clean_text(_CONTROL.sub("", str(value)))
    return s


def _fail(field_: str, reason: str) -> RecordValidationError:
    return RecordValidationError(reason, details={"field": field_})


def _limit(field_: str, value: str | None) -> str | None:
    if value is not None:
        limit = LIMITS.get(field_, DEFAULT_LIMIT)
        if len(value) > limit:
            raise _fail(field_, f"{field_} is {len(value)} characters; the limit is {limit}")
    return value


def _text(row: dict[str, Any], field_: str, stats: dict[str, int], *,
          required: bool = False) -> str | None:
    raw = row.get(field_)
    if isinstance(raw, str) and _CONTROL.search(raw):  # removed, and said so in the report
        stats["control_chars_removed"] = stats.get("control_chars_removed", 0) + 1
    s = _s(raw)
    if s is not None and nz.has_html(s):
        s = nz.clean_text(nz.strip_html(s))
        stats["html_stripped"] = stats.get("html_stripped", 0) + 1
    if s is not None:
        masked = mask_id_numbers(s)
        if masked != s:
            stats["id_numbers_masked"] = stats.get("id_numbers_masked", 0) + 1
            s = masked
    if required and not s:
        raise _fail(field_, f"required field {field_} is missing or empty")
    if s is not None and field_ == "title":
        s = s.replace("\n", " ")  # a title is one line, whatever the export did
    return _limit(field_, s)


def _plain(row: dict[str, Any], field_: str) -> str | None:
    s = _s(row.get(field_))
    if s is not None and nz.has_html(s):  # the one rule: tags are stripped from every field
        s = nz.clean_text(nz.strip_html(s))
    return _limit(field_, s.replace("\n", " ") if s and "\n" in s else s)


def _id(row: dict[str, Any]) -> str:
    raw = row.get("id")
    if isinstance(raw, str) and _CONTROL.search(raw):  # BAD\0NUL-2 must not become BADNUL-2
        raise _fail("id", f"id {_CONTROL.sub('?', raw)!r} contains control characters "
                    "(NUL and the like); fix the source file")
    rid = _plain(row, "id")
    if not rid:
        raise _fail("id", "required field id is missing or empty")
    rid = rid.replace(" ", "")
    if not _ID_OK.match(rid):
        raise _fail("id", f"id {rid!r} has characters other than letters, digits and . - / : # _")
    return rid


def _wrap(field_: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except RecordValidationError as exc:
        exc.details.setdefault("field", field_)
        raise


def to_patent(row: dict[str, Any], *, source: str, stats: dict[str, int]) -> PatentRecord:
    rid = _id(row)
    title = _text(row, "title", stats, required=True)
    abstract = _text(row, "abstract", stats, required=True)
    claims = _text(row, "claims", stats)
    ipc = _wrap("ipc", nz.parse_ipc_list, row.get("ipc"))
    applicant = _plain(row, "applicant")
    atype = _wrap("applicant_type", nz.normalize_choice, _plain(row, "applicant_type"),
                  nz.APPLICANT_TYPE_ALIASES, field="applicant_type")
    return PatentRecord(
        id=rid, title=title, abstract=abstract, claims=claims, ipc=ipc,  # type: ignore[arg-type]
        applicant=applicant,
        applicant_type=atype or nz.infer_applicant_type(applicant),
        legal_status=nz.normalize_legal_status(_plain(row, "legal_status")),
        application_date=nz.normalize_date(row.get("application_date"), field="application_date"),
        publication_date=nz.normalize_date(row.get("publication_date"), field="publication_date"),
        region=_plain(row, "region"),
        inventors=nz.split_names(row.get("inventors")),
        open_license=nz.parse_bool(row.get("open_license"), field="open_license"),
        license_fee=_plain(row, "license_fee"),
        source=_plain(row, "source") or source,
        **_patent_given(row, stats),
    )


def _count(row: dict[str, Any], field_: str) -> int | None:
    s = _s(row.get(field_))
    if not s:
        return None
    s = s.replace(",", "").strip()
    if not re.fullmatch(r"\d+(?:\.0+)?", s) or int(float(s)) > 10**6:
        raise _fail(field_, f"{field_} must be a whole number 0-1000000, got {s!r}")
    return int(float(s))


def _patent_given(row: dict[str, Any], stats: dict[str, int]) -> dict[str, Any]:
    """What a person gave about the patent (problem/means/effect, TRL, counts, licence
    terms): validated here, and preferred by the labeler over its own inference."""
    from labeling_spec.license_terms import (LICENSE_MODE_ALIASES, PAYMENT_ALIASES,
                                             PERIOD_ALIASES, choice, parse_fee)

    out: dict[str, Any] = {k: _text(row, k, stats) for k in ("problem", "means", "effect")}
    trl = _s(row.get("trl"))
    if trl:
        try:
            out["trl"] = _trl(trl)
        except RecordValidationError:
            raise _fail("trl", f"trl must be an integer 1-9, got {trl!r}") from None
    for k in ("citations", "transfer_count", "license_count"):
        out[k] = _count(row, k)
    for k, aliases in (("license_mode", LICENSE_MODE_ALIASES),
                       ("license_fee_period", PERIOD_ALIASES),
                       ("license_payment", PAYMENT_ALIASES)):
        v = _plain(row, k)
        if v and choice(v, aliases) is None:
            raise _fail(k, f"{k} must be one of {sorted(set(aliases.values()))}, got {v!r}")
        out[k] = choice(v, aliases)
    amount = _s(row.get("license_fee_wan"))
    fee = parse_fee(_plain(row, "license_fee"), amount_wan=amount,
                    period=out["license_fee_period"], payment=out["license_payment"])
    if amount and fee.amount_wan is None:
        raise _fail("license_fee_wan", f"license_fee_wan must be an amount in 万元, got {amount!r}")
    out.update(license_fee_wan=fee.amount_wan, license_fee_period=fee.period,
               license_payment=fee.payment)
    if out["license_mode"] is None and nz.parse_bool(row.get("open_license"), field="open_license"):
        out["license_mode"] = "开放许可"
    return out


def _phone(value: Any) -> str | None:
    s = _s(value)
    if not s:
        return None
    s = re.sub(r"[\s()（）]", "", s)
    if not re.fullmatch(r"\+?[\d\-]{7,20}", s) or len(re.sub(r"\D", "", s)) < 7:
        raise _fail("contact_phone", f"contact_phone {mask_phone(s)!r} is not a phone number "
                    "(expected 7-20 digits, optional + and -)")
    return s


def _email(value: Any) -> str | None:
    s = _s(value)
    if not s:
        return None
    s = s.strip().lower()
    if not _EMAIL.match(s):
        raise _fail("contact_email", f"contact_email {mask_email(s)!r} is not an e-mail address")
    return s


def _trl(value: Any) -> int | None:
    s = _s(value)
    if not s:
        return None
    m = re.search(r"\d+", s)
    if not m or not 1 <= int(m.group()) <= 9:
        raise _fail("required_trl", f"required_trl must be an integer 1-9, got {s!r}")
    return int(m.group())


@functools.lru_cache(maxsize=1)
def _chain_names() -> tuple[tuple[str, str], ...]:
    """(id, name_zh) of the chain taxonomy; empty when it cannot be loaded."""
    try:
        from labeling_spec.chains import load_taxonomy

        return tuple((c.id, c.name_zh) for c in load_taxonomy().chains)
    except Exception:  # noqa: BLE001 - a hint field must never block ingestion
        return ()


def normalize_chain(value: str | None, stats: dict[str, int]) -> str | None:
    """A chain given as id or Chinese name (新能源汽车, 工业互联网 ...) -> chain id.

    The chain is a hint from the form, not required: an unknown value is kept as given
    and counted (``chain_unknown``), the labeler decides the chains of every demand.
    """
    if not value:
        return None
    names = _chain_names()
    key = value.strip()
    for cid, name in names:
        base = re.split(r"[（(]", name)[0]
        if key.lower() == cid or key == name or key == base or (len(key) >= 2 and key in name):
            return cid
    if names:
        stats["chain_unknown"] = stats.get("chain_unknown", 0) + 1
    return key


def to_demand(row: dict[str, Any], *, source: str, stats: dict[str, int]) -> DemandRecord:
    """The one validation path of a demand: files (ingest, batch jobs) and the API."""
    rec = _demand_fields(row, source=source, stats=stats)
    masked = mask_free_text(rec)
    if masked is not rec:
        stats["pii_masked"] = stats.get("pii_masked", 0) + 1
    return masked


def validate_demand(fields: dict[str, Any]) -> DemandRecord:
    """A demand from API fields through the same rules as a file row (raises
    ``RecordValidationError`` naming the field). ``owner`` and ``status`` pass through."""
    rec = to_demand(fields, source="", stats={})
    return dataclasses.replace(rec, source=rec.source or None, owner=fields.get("owner"),
                               status=fields.get("status") or "active")


def _demand_fields(row: dict[str, Any], *, source: str, stats: dict[str, int]) -> DemandRecord:
    rid = _id(row)
    return DemandRecord(
        id=rid,
        text=_text(row, "text", stats, required=True),  # type: ignore[arg-type]
        title=_text(row, "title", stats),
        enterprise=_plain(row, "enterprise"),
        industry=_plain(row, "industry"),
        chain=normalize_chain(_plain(row, "chain"), stats),
        region=_plain(row, "region"),
        budget=_plain(row, "budget"),
        cooperation_mode=_wrap("cooperation_mode", nz.normalize_choice,
                               _plain(row, "cooperation_mode"), nz.COOPERATION_ALIASES,
                               field="cooperation_mode"),
        required_trl=_trl(row.get("required_trl")),
        deadline=nz.normalize_date(row.get("deadline"), field="deadline"),
        confidential=nz.parse_bool(row.get("confidential"), field="confidential"),
        contact_name=_plain(row, "contact_name"),
        contact_phone=_phone(row.get("contact_phone")),
        contact_email=_email(row.get("contact_email")),
        source=_plain(row, "source") or source,
    )


# --- reading and validating ------------------------------------------------------------
@dataclass
class _Batch:
    kind: str
    records: list[Any] = field(default_factory=list)
    first_seen: dict[str, str] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    blank: int = 0
    repeated: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    def add_table(self, table: RawTable) -> None:
        convert = to_patent if self.kind == "patents" else to_demand
        name = table.path.name
        self.blank += table.blank_rows
        for rownum, row, raw in table.rows:
            self.read += 1
            if "__error__" in row:
                self.rejects.append(Reject(name, rownum, "(row)", row["__error__"], raw))
                continue
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
            for what in row_stats:  # counted per row, however many fields were cleaned
                self.stats[what] = self.stats.get(what, 0) + 1
            where = f"{name}:{rownum}"
            if rec.id in self.first_seen:
                self.repeated += 1
                self.rejects.append(Reject(
                    name, rownum, "id", f"duplicate id {rec.id!r}: the first occurrence at "
                    f"{self.first_seen[rec.id]} was kept", raw, kind="duplicate"))
                continue
            self.first_seen[rec.id] = where
            self.records.append(rec)


def read_records(kind: Kind, path: str | Path, *, auto_id: bool = False
                 ) -> tuple[list[Any], list[Reject]]:
    """Parse, validate and normalise one file without storing anything.

    Batch matching reuses this: the same aliases, limits and rejects as ``ingest``.
    Repeated ids keep their first occurrence; the others come back as rejects with
    ``kind="duplicate"``. ``auto_id=True`` accepts a file with no id column (ids become
    ``<file stem>-<row>``).
    """
    _check_kind(kind)
    batch = _Batch(kind)
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


# --- the rejects file --------------------------------------------------------------------
_PERSONAL_HEADERS: dict[str, Any] = {"contact_name": mask_name, "contact_phone": mask_phone,
                                     "contact_email": mask_email}


def _masked_raw(raw: dict[str, Any], kind: str) -> dict[str, Any]:
    from indexing.intake.readers import header_key, aliases_for

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


# --- ingest ------------------------------------------------------------------------------
def ingest_files(kind: Kind, paths: Sequence[str | Path], store: Any, *,
                 rejects_dir: str | Path | None, dry_run: bool = False,
                 progress: Any = None) -> IngestReport:
    """Read every file, then upsert all accepted rows in ONE transaction.

    A file-level problem (unknown type, encoding, missing column) raises before anything
    is written, for all files together. With ``dry_run`` nothing is stored; the counts
    are what a real run would report.
    """
    _check_kind(kind)
    if not paths:
        raise InputError("no input files given; expected one or more CSV/XLSX/JSONL/Parquet files")
    t0 = time.perf_counter()
    batch = _Batch(kind)
    for p in paths:
        batch.add_table(read_table(p, kind))
        if progress is not None:  # (files done, rows read so far): the CLI's progress bar
            progress(1, batch.read)
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
        files=tuple(str(p) for p in paths), cleaned=dict(batch.stats), dry_run=dry_run,
        seconds=round(time.perf_counter() - t0, 3))
    assert report.balanced, report.equation()  # an accounting bug must never pass silently
    return report


def _stored(store: Any, kind: str, rid: str) -> Any:
    if store is None:
        return None
    return store.get_patent(rid) if kind == "patents" else store.get_demand(rid)
