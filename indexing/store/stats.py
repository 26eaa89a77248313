"""Statistics of the records the platform holds, for a reporting period: supply and
demand per industry chain (产业链), by applicant type and region, and what is new.

These are the 供需统计 sections of ``patmatch report``. A record counts in every chain
its labels (or, for a demand, its own ``chain`` field) name; records in no chain count
under ``UNCHAINED``, so the per-chain rows always add up to at least the totals.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patmatch.errors import InputError

from indexing.index.facets import record_chains
from indexing.records import patent_is_valid

UNCHAINED = "(未归类)"


@dataclass(frozen=True)
class Period:
    """A reporting period, both ends inclusive (dates, UTC)."""

    start: _dt.date
    end: _dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"report period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, today: _dt.date | None = None
              ) -> Period:
        """``--from``/``--to`` as ISO dates; missing ends default to the calendar year
        to date (a yearly report is what the platform's targets are counted on)."""
        today = today or _dt.datetime.now(_dt.UTC).date()

        def day(v: str | None, default: _dt.date, name: str) -> _dt.date:
            if v is None:
                return default
            try:
                return _dt.date.fromisoformat(v)
            except ValueError:
                raise InputError(f"{name} must be an ISO date like 2026-01-31, got {v!r}",
                                 details={"field": name}) from None

        return cls(day(start, _dt.date(today.year, 1, 1), "from"), day(end, today, "to"))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, iso: str | None) -> bool:
        return bool(iso) and self.start.isoformat() <= str(iso)[:10] <= self.end.isoformat()

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


def _top(counter: Counter, n: int = 10) -> list[dict[str, Any]]:
    return [{"name": k, "count": v} for k, v in counter.most_common(n)]


def record_stats(store: Any, period: Period,
                 chain_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Supply and demand statistics of ``store`` (an ``indexing.store.record_store.Store``)."""
    names = dict(chain_names or {})
    labels = {s: store.load_labels(s) for s in ("patents", "demands")}
    since = {s: store.record_times(s) for s in ("patents", "demands")}
    rows: dict[str, Counter] = defaultdict(Counter)
    owners: dict[str, set[str]] = defaultdict(set)
    sup: Counter = Counter()
    applicant_types: Counter = Counter()
    regions: Counter = Counter()
    for p in store.iter_patents():
        lab = labels["patents"].get(p.id, {})
        valid, new = patent_is_valid(p), period.contains(since["patents"].get(p.id))
        sup.update(patents=1, valid=valid, new=new, labelled=p.id in labels["patents"],
                   open_license=bool(p.open_license))
        applicant_types[p.applicant_type or "unknown"] += 1
        regions[p.region or "unknown"] += 1
        for c in record_chains(p, lab) or [UNCHAINED]:
            rows[c].update(patents=1, patents_valid=valid, patents_new=new)
    dem: Counter = Counter()
    for d in store.iter_demands(include_deleted=True):
        active, new = d.status == "active", period.contains(since["demands"].get(d.id))
        dem.update(demands=active, deleted=not active, new=new and active,
                   confidential=active and bool(d.confidential),
                   labelled=active and d.id in labels["demands"])
        if not active:
            continue
        for c in record_chains(d, labels["demands"].get(d.id, {})) or [UNCHAINED]:
            rows[c].update(demands=1, demands_new=new, demands_confidential=bool(d.confidential))
            if d.owner:
                owners[c].add(d.owner)
    chains = [
        {"chain": c, "name": names.get(c, c), "patents": r["patents"],
         "patents_valid": r["patents_valid"], "patents_new": r["patents_new"],
         "demands": r["demands"], "demands_new": r["demands_new"],
         "demands_confidential": r["demands_confidential"], "centres": len(owners[c])}
        for c, r in sorted(rows.items(), key=lambda kv: (kv[0] == UNCHAINED, -kv[1]["patents"]))
    ]
    return {
        "supply": {"patents": sup["patents"], "valid": sup["valid"], "new": sup["new"],
                   "labelled": sup["labelled"], "open_license": sup["open_license"],
                   "by_applicant_type": _top(applicant_types), "by_region": _top(regions)},
        "demand": {"active": dem["demands"], "deleted": dem["deleted"], "new": dem["new"],
                   "confidential": dem["confidential"], "labelled": dem["labelled"]},
        "chains": chains,
        "chains_with_patents": sum(1 for c in chains if c["chain"] != UNCHAINED and c["patents"]),
    }


__all__ = ["UNCHAINED", "Period", "record_stats"]
