"""One input row -> one validated record: the field rules of patents and demands.

Cells of any type are cleaned to text (control characters, HTML, ID numbers masked),
checked against the size limits and the field grammars (ids, dates, TRL, phone, e-mail,
licence terms), and raise ``RecordValidationError`` naming the field. Files (ingest, batch
jobs) and the API's demand form go through the same rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from patmatch.errors import RecordValidationError

from indexing.intake import normalize as nz
from indexing.intake.aliases import REQUIRED
from indexing.intake.cells import check_cells
from indexing.privacy import (mask_email, mask_free_text, mask_id_numbers, mask_phone,
                               mask_pii)
from indexing.records import DemandRecord, PatentRecord

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


def _cell_text(value: Any) -> str | None:
    """Any cell (str, number, list, None) as a cleaned single string."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = "；".join(str(v) for v in value if v is not None)
    s = nz.clean_text(_CONTROL.sub("", str(value)))
    return s


def _field_error(field_: str, reason: str) -> RecordValidationError:
    return RecordValidationError(reason, details={"field": field_})


def _within_limit(field_: str, value: str | None) -> str | None:
    if value is not None:
        limit = LIMITS.get(field_, DEFAULT_LIMIT)
        if len(value) > limit:
            raise _field_error(field_, f"{field_} is {len(value)} characters; the limit is {limit}")
    return value


def _text_field(row: dict[str, Any], field_: str, stats: dict[str, int], *,
          required: bool = False) -> str | None:
    raw = row.get(field_)
    if isinstance(raw, str) and _CONTROL.search(raw):  # removed, and said so in the report
        stats["control_chars_removed"] = stats.get("control_chars_removed", 0) + 1
    s = _cell_text(raw)
    if s is not None and nz.has_html(s):
        s = nz.clean_text(nz.strip_html(s))
        stats["html_stripped"] = stats.get("html_stripped", 0) + 1
    if s is not None:  # the one detector, on every free-text field of every kind
        masked = mask_id_numbers(s)
        if masked != s:
            stats["id_numbers_masked"] = stats.get("id_numbers_masked", 0) + 1
        masked = mask_pii(masked)
        if masked != s:
            stats["pii_masked"] = stats.get("pii_masked", 0) + 1
            s = masked
    if required and not s:
        raise _field_error(field_, f"required field {field_} is missing or empty")
    if s is not None and field_ == "title":
        s = s.replace("\n", " ")  # a title is one line, whatever the export did
    return _within_limit(field_, s)


def _plain_field(row: dict[str, Any], field_: str) -> str | None:
    s = _cell_text(row.get(field_))
    if s is not None and nz.has_html(s):  # the one rule: tags are stripped from every field
        s = nz.clean_text(nz.strip_html(s))
    return _within_limit(field_, s.replace("\n", " ") if s and "\n" in s else s)


def _free_field(row: dict[str, Any], field_: str, stats: dict[str, int]) -> str | None:
    """A short free-text field (applicant, region, fee ...): one line, personal data masked."""
    s = _plain_field(row, field_)
    masked = mask_pii(s)
    if masked != s:
        stats["pii_masked"] = stats.get("pii_masked", 0) + 1
    return masked


def _record_id(row: dict[str, Any]) -> str:
    raw = row.get("id")
    if isinstance(raw, str) and _CONTROL.search(raw):  # BAD\0NUL-2 must not become BADNUL-2
        raise _field_error("id", f"id {_CONTROL.sub('?', raw)!r} contains control characters "
                    "(NUL and the like); fix the source file")
    rid = _plain_field(row, "id")
    if not rid:
        raise _field_error("id", "required field id is missing or empty")
    rid = rid.replace(" ", "")
    if not _ID_OK.match(rid):
        raise _field_error("id", f"id {rid!r} has characters other than letters, digits and . - / : # _")
    return rid


def _naming_field(field_: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except RecordValidationError as exc:
        exc.details.setdefault("field", field_)
        raise


def to_patent(row: dict[str, Any], *, source: str, stats: dict[str, int]) -> PatentRecord:
    # typed cells: coerced and counted, or the row rejected
    row = check_cells(row, stats, required=REQUIRED["patents"])
    rid = _record_id(row)
    title = _text_field(row, "title", stats, required=True)
    abstract = _text_field(row, "abstract", stats, required=True)
    claims = _text_field(row, "claims", stats)
    ipc = _naming_field("ipc", nz.parse_ipc_list, row.get("ipc"))
    applicant = _free_field(row, "applicant", stats)
    atype = _naming_field("applicant_type", nz.normalize_choice, _plain_field(row, "applicant_type"),
                  nz.APPLICANT_TYPE_ALIASES, field="applicant_type")
    return PatentRecord(
        id=rid, title=title, abstract=abstract, claims=claims, ipc=ipc,  # type: ignore[arg-type]
        applicant=applicant,
        applicant_type=atype or nz.infer_applicant_type(applicant),
        legal_status=nz.normalize_legal_status(_plain_field(row, "legal_status")),
        application_date=nz.normalize_date(row.get("application_date"), field="application_date"),
        publication_date=nz.normalize_date(row.get("publication_date"), field="publication_date"),
        region=_free_field(row, "region", stats),
        inventors=nz.split_names(row.get("inventors")),
        open_license=nz.parse_bool(row.get("open_license"), field="open_license"),
        license_fee=_free_field(row, "license_fee", stats),
        source=_free_field(row, "source", stats) or source,
        **_patent_given(row, stats),
    )


def _whole_count(row: dict[str, Any], field_: str) -> int | None:
    s = _cell_text(row.get(field_))
    if not s:
        return None
    s = s.replace(",", "").strip()
    if not re.fullmatch(r"\d+(?:\.0+)?", s) or int(float(s)) > 10**6:
        raise _field_error(field_, f"{field_} must be a whole number 0-1000000, got {s!r}")
    return int(float(s))


def _patent_given(row: dict[str, Any], stats: dict[str, int]) -> dict[str, Any]:
    """What a person gave about the patent (problem/means/effect, TRL, counts, licence
    terms): validated here, and preferred by the labeler over its own inference."""
    from labeling_spec.license_terms import (LICENSE_MODE_ALIASES, PAYMENT_ALIASES,
                                             PERIOD_ALIASES, choice, parse_fee)

    out: dict[str, Any] = {k: _text_field(row, k, stats) for k in ("problem", "means", "effect")}
    trl = _cell_text(row.get("trl"))
    if trl:
        try:
            out["trl"] = _trl_level(trl)
        except RecordValidationError:
            raise _field_error("trl", f"trl must be an integer 1-9, got {trl!r}") from None
    for k in ("citations", "transfer_count", "license_count"):
        out[k] = _whole_count(row, k)
    for k, aliases in (("license_mode", LICENSE_MODE_ALIASES),
                       ("license_fee_period", PERIOD_ALIASES),
                       ("license_payment", PAYMENT_ALIASES)):
        v = _plain_field(row, k)
        if v and choice(v, aliases) is None:
            raise _field_error(k, f"{k} must be one of {sorted(set(aliases.values()))}, got {v!r}")
        out[k] = choice(v, aliases)
    amount = _cell_text(row.get("license_fee_wan"))
    fee = parse_fee(_plain_field(row, "license_fee"), amount_wan=amount,
                    period=out["license_fee_period"], payment=out["license_payment"])
    if amount and fee.amount_wan is None:
        raise _field_error("license_fee_wan", f"license_fee_wan must be an amount in 万元, got {amount!r}")
    out.update(license_fee_wan=fee.amount_wan, license_fee_period=fee.period,
               license_payment=fee.payment)
    if out["license_mode"] is None and nz.parse_bool(row.get("open_license"), field="open_license"):
        out["license_mode"] = "开放许可"
    return out


def _phone_number(value: Any) -> str | None:
    s = _cell_text(value)
    if not s:
        return None
    s = re.sub(r"[\s()（）]", "", s)
    if not re.fullmatch(r"\+?[\d\-]{7,20}", s) or len(re.sub(r"\D", "", s)) < 7:
        raise _field_error("contact_phone", f"contact_phone {mask_phone(s)!r} is not a phone number "
                    "(expected 7-20 digits, optional + and -)")
    return s


def _email_address(value: Any) -> str | None:
    s = _cell_text(value)
    if not s:
        return None
    s = s.strip().lower()
    if not _EMAIL.match(s):
        raise _field_error("contact_email", f"contact_email {mask_email(s)!r} is not an e-mail address")
    return s


def _trl_level(value: Any) -> int | None:
    s = _cell_text(value)
    if not s:
        return None
    m = re.search(r"\d+", s)
    if not m or not 1 <= int(m.group()) <= 9:
        raise _field_error("required_trl", f"required_trl must be an integer 1-9, got {s!r}")
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
    # typed cells: coerced and counted, or the row rejected
    row = check_cells(row, stats, required=REQUIRED["demands"])
    rid = _record_id(row)
    return DemandRecord(
        id=rid,
        text=_text_field(row, "text", stats, required=True),  # type: ignore[arg-type]
        title=_text_field(row, "title", stats),
        enterprise=_plain_field(row, "enterprise"),
        industry=_plain_field(row, "industry"),
        chain=normalize_chain(_plain_field(row, "chain"), stats),
        region=_plain_field(row, "region"),
        budget=_plain_field(row, "budget"),
        cooperation_mode=_naming_field("cooperation_mode", nz.normalize_choice,
                               _plain_field(row, "cooperation_mode"), nz.COOPERATION_ALIASES,
                               field="cooperation_mode"),
        required_trl=_trl_level(row.get("required_trl")),
        deadline=nz.normalize_date(row.get("deadline"), field="deadline"),
        confidential=nz.parse_bool(row.get("confidential"), field="confidential"),
        contact_name=_plain_field(row, "contact_name"),
        contact_phone=_phone_number(row.get("contact_phone")),
        contact_email=_email_address(row.get("contact_email")),
        source=_plain_field(row, "source") or source,
    )
