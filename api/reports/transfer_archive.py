"""The archive of transfer reports: generate, list, open (CLI, API and the web console).

A report is archived as ``<home>/reports/report-<id>.{json,md,html}``; the id is the type,
the period and (hashed) region/chain, so regenerating the same report for the same period
replaces the archived one and the "reports per year" target counts it once (the
supply/demand report counts every ``report-*.json`` with a ``generated`` date). The JSON
carries the inputs' fingerprint; other formats (xlsx, png) are rendered from it on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patmatch.errors import InputError, NotFoundError

from api.reports import transfer_render
from api.reports.transfers import REPORT_TYPES, build, load_inputs

REPORT_ID = re.compile(r"^transfer-[a-z]+-\d{4}(?:-\d{2}|Q[1-4])?(?:-[0-9a-f]{8})?$")
ARCHIVED_FORMATS = ("json", "md", "html")


@dataclass(frozen=True)
class ArchivedReport:
    id: str
    type: str
    type_name: str
    title: str
    period: str
    period_from: str
    period_to: str
    region: str | None
    chain: str | None
    generated: str
    fingerprint: str
    empty: bool
    formats: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reports_dir(settings: Any) -> Path:
    return Path(settings.home) / "reports"


def report_id(doc: dict[str, Any]) -> str:
    p = doc["period"]
    key = {"year": p["from"][:4], "quarter": f"{p['from'][:4]}Q{(int(p['from'][5:7]) + 2) // 3}",
           "month": p["from"][:7]}[p["kind"]]
    rid = f"transfer-{doc['type']}-{key}"
    scope = "|".join(x or "" for x in ((doc["region"] or {}).get("name"), doc["chain"]))
    if scope != "|":
        rid += "-" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:8]
    return rid


def _meta(doc: dict[str, Any], rid: str) -> ArchivedReport:
    return ArchivedReport(
        id=rid, type=doc["type"], type_name=doc["type_name"], title=doc["title"],
        period=doc["period"]["label"], period_from=doc["period"]["from"],
        period_to=doc["period"]["to"], region=(doc["region"] or {}).get("name"),
        chain=doc["chain"], generated=doc["generated"], fingerprint=doc["fingerprint"],
        empty=bool(doc["empty"]), formats=(*ARCHIVED_FORMATS, "xlsx", "png"))


def archive(settings: Any, doc: dict[str, Any]) -> ArchivedReport:
    rid = report_id(doc)
    out = reports_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"report-{rid}.*"):  # a replaced report leaves no old rendering
        if stale.suffix.lstrip(".") not in ARCHIVED_FORMATS:
            stale.unlink(missing_ok=True)
    for fmt in ("md", "html", "json"):  # json last: it is what marks the report complete
        transfer_render.write(doc, fmt, out / f"report-{rid}.{fmt}")
    return _meta(doc, rid)


def generate(settings: Any, type_: str | None = None, period: str | None = None,
             region: str | None = None, chain: str | None = None) -> tuple[dict[str, Any],
                                                                          ArchivedReport]:
    """Import the platform's deals, build a report from the current data and archive it
    (replacing the same report)."""
    from api.reports.transfer_sync import sync_platform_deals

    synced = sync_platform_deals(settings)
    doc = build(load_inputs(settings), type_, period, region, chain)
    doc["platform"]["sync"] = synced.message
    return doc, archive(settings, doc)


def _load(settings: Any, rid: str) -> dict[str, Any]:
    if not REPORT_ID.match(rid):
        raise NotFoundError(f"no archived report {rid!r}", details={"report_id": rid})
    p = reports_dir(settings) / f"report-{rid}.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFoundError(f"no archived report {rid!r}", details={"report_id": rid}) from None


def list_archived_reports(settings: Any, type_: str | None = None) -> list[ArchivedReport]:
    """Archived transfer reports, newest period first (the console lists these)."""
    out: list[ArchivedReport] = []
    for p in reports_dir(settings).glob("report-transfer-*.json"):
        rid = p.name[len("report-"):-len(".json")]
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            meta = _meta(doc, rid)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # damaged or foreign: not listed
        if type_ is None or meta.type == type_:
            out.append(meta)
    return sorted(out, key=lambda m: (m.period_from, m.type, m.id), reverse=True)


def get_archived_report(settings: Any, rid: str) -> ArchivedReport:
    return _meta(_load(settings, rid), rid)


def open_archived_report(settings: Any, rid: str, fmt: str = "html") -> Path:
    """The file of an archived report in ``fmt``; xlsx/png are rendered from its JSON once."""
    if fmt not in transfer_render.FORMATS:
        raise InputError(f"format must be one of {', '.join(transfer_render.FORMATS)}, got "
                         f"{fmt!r}", details={"format": fmt})
    doc = _load(settings, rid)
    path = reports_dir(settings) / f"report-{rid}.{fmt}"
    if not path.is_file():
        transfer_render.write(doc, fmt, path)
    return path


def reports_this_year(settings: Any, year: int) -> int:
    """Distinct transfer reports generated in ``year`` (one per type+period+scope)."""
    return sum(1 for m in list_archived_reports(settings) if m.generated[:4] == str(year))


__all__ = ["ARCHIVED_FORMATS", "REPORT_TYPES", "ArchivedReport", "archive", "generate",
           "get_archived_report", "list_archived_reports", "open_archived_report", "report_id",
           "reports_dir", "reports_this_year"]
