"""Search filters, applied INSIDE retrieval as a boolean row mask.

A ``Filters`` value is frozen and hashable so that a side index can cache the masks it
computed. ``mask_for`` turns one into a ``np.ndarray[bool]`` over a side's row-aligned
``facets`` table (see ``indexing/index/bundle.py`` for the columns); ``None`` means "every row
passes", which lets retrieval skip the selector entirely.

Semantics (all given conditions must hold; values inside one condition are alternatives):
- ``chains``: the record carries at least one of these chain ids.
- ``ipc_prefix``: at least one of the record's IPC codes starts with one of the prefixes
  (spaces and case ignored, so ``"h01m 10"`` matches ``H01M10/0525``).
- ``applicant_types`` / ``regions``: equality; a region also matches by prefix
  (``"广东"`` matches ``"广东省深圳市"``).
- ``valid_only``: drop patents whose legal status is not valid (builds already drop
  them; the flag protects bundles built with ``keep_invalid``).
- ``date_from`` / ``date_to``: inclusive ISO dates on the ``date`` facet (patents: the
  application date; demands: the deadline). A patent without a date fails a date filter;
  a demand without a deadline is open-ended and passes.
- ``open_license_only``: patents offered under open licence (开放许可).
- ``grades`` / ``min_grade`` / ``min_trl``: label filters (value grade A/B/C, at least
  ``min_grade`` — "B" keeps A and B —, technology readiness at least ``min_trl``).
- ``max_required_trl``: demands that require at most this readiness (a patent at TRL 6
  can serve demands requiring <= 6).
- ``max_fee_wan``: patents whose licence fee, over one year in 万元, is known and at most
  this (a demand's budget); a patent without a stated fee (面议) does not pass.
- ``owners``: demands posted by these operation centres.
- ``hide_confidential`` + ``viewer``: confidential demands are hidden unless their
  ``owner`` equals ``viewer`` (a centre always sees its own demands).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from indexing.records import APPLICANT_TYPES
from patmatch.errors import InputError
from patmatch.config import checked_fields

GRADES: tuple[str, ...] = ("A", "B", "C")
_IPC_NORM = re.compile(r"\s+")


def _tuple(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，;；]", value)]
    if not isinstance(value, Iterable):
        raise InputError(
            f"filter {name!r} expects a list of strings, got {type(value).__name__}",
            details={"field": name},
        )
    out = tuple(str(v).strip() for v in value if v is not None and str(v).strip())
    return tuple(dict.fromkeys(out))  # de-duplicated, order kept


def _iso_date(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, _dt.date):
        return value.isoformat()[:10]
    try:
        return _dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise InputError(
            f"filter {name!r} expects an ISO date yyyy-mm-dd, got {value!r}",
            details={"field": name, "value": str(value)},
        ) from None


def normalize_ipc(code: str) -> str:
    return _IPC_NORM.sub("", code).upper()


@dataclass(frozen=True)
class Filters:
    chains: tuple[str, ...] = ()
    ipc_prefix: tuple[str, ...] = ()
    applicant_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    valid_only: bool = True
    date_from: str | None = None
    date_to: str | None = None
    open_license_only: bool = False
    grades: tuple[str, ...] = ()
    min_trl: int | None = None
    min_grade: str | None = None
    max_required_trl: int | None = None
    max_fee_wan: float | None = None
    owners: tuple[str, ...] = ()
    hide_confidential: bool = False
    viewer: str | None = None

    def __post_init__(self) -> None:
        # Normalise in place (frozen): callers may pass lists or comma-separated strings.
        for name in ("chains", "applicant_types", "regions", "grades", "owners"):
            object.__setattr__(self, name, _tuple(getattr(self, name), name))
        object.__setattr__(
            self, "ipc_prefix",
            tuple(dict.fromkeys(normalize_ipc(p) for p in _tuple(self.ipc_prefix, "ipc_prefix"))),
        )
        object.__setattr__(self, "date_from", _iso_date(self.date_from, "date_from"))
        object.__setattr__(self, "date_to", _iso_date(self.date_to, "date_to"))
        bad = [t for t in self.applicant_types if t not in APPLICANT_TYPES]
        if bad:
            raise InputError(
                f"unknown applicant type(s) {bad}; expected some of {list(APPLICANT_TYPES)}",
                details={"field": "applicant_types"},
            )
        bad = [g for g in self.grades if g not in GRADES]
        if bad:
            raise InputError(
                f"unknown grade(s) {bad}; expected some of {list(GRADES)}",
                details={"field": "grades"},
            )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(
                f"date_from {self.date_from} is after date_to {self.date_to}",
                details={"field": "date_from"},
            )
        for name in ("min_trl", "max_required_trl"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                if isinstance(value, bool) or float(value) != int(value):
                    raise ValueError
                trl = int(value)
            except (TypeError, ValueError):
                raise InputError(f"{name} expects an integer 1-9, got {value!r}",
                                 details={"field": name}) from None
            if not 1 <= trl <= 9:
                raise InputError(f"{name} expects 1-9, got {trl}", details={"field": name})
            object.__setattr__(self, name, trl)
        if self.min_grade is not None:
            g = str(self.min_grade).strip().upper()
            if g not in GRADES:
                raise InputError(f"min_grade expects one of {list(GRADES)}, got {self.min_grade!r}",
                                 details={"field": "min_grade"})
            object.__setattr__(self, "min_grade", g)
        if self.max_fee_wan is not None:
            try:
                if isinstance(self.max_fee_wan, bool):
                    raise ValueError
                fee = float(self.max_fee_wan)
                if not 0 <= fee < 1e9:
                    raise ValueError
            except (TypeError, ValueError):
                raise InputError(f"max_fee_wan expects an amount in 万元 >= 0, got "
                                 f"{self.max_fee_wan!r}", details={"field": "max_fee_wan"}) from None
            object.__setattr__(self, "max_fee_wan", fee)
        for name in ("valid_only", "open_license_only", "hide_confidential"):
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.viewer is not None:
            object.__setattr__(self, "viewer", str(self.viewer).strip() or None)

    @property
    def is_empty(self) -> bool:
        """True when no condition restricts anything (``valid_only`` aside)."""
        return self == Filters(valid_only=self.valid_only)

    def with_(self, **changes: Any) -> Filters:
        return Filters.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Filters:
        data = checked_fields(cls, data, "filter field(s)", error=InputError)
        return cls(**{k: v for k, v in data.items() if v is not None})


def _list_any(col: Any, wanted: tuple[str, ...], *, prefix: bool) -> np.ndarray:
    """Row passes when any element of its list column matches any wanted value."""
    import polars as pl

    exploded = pl.DataFrame({"row": np.arange(len(col), dtype=np.int64), "v": col}).explode("v")
    v = exploded["v"]
    if prefix:
        v = v.str.replace_all(r"\s+", "").str.to_uppercase()
        hit = pl.Series([False] * len(v))
        for p in wanted:
            hit = hit | v.str.starts_with(p).fill_null(False)
    else:
        hit = v.is_in(list(wanted)).fill_null(False)
    rows = exploded["row"].filter(hit).to_numpy()
    out = np.zeros(len(col), dtype=bool)
    out[rows] = True
    return out


def _col(facets: Any, name: str) -> Any | None:
    return facets.get_column(name) if name in facets.columns else None


def mask_for(facets: Any, filters: Filters, *, side: str = "patents") -> np.ndarray | None:
    """Boolean row mask for ``filters`` over a ``facets`` polars frame; None = all rows.

    A filter on a facet the side does not carry (e.g. ``applicant_types`` on demands)
    excludes every row rather than being silently ignored.
    """
    n = facets.height
    mask = np.ones(n, dtype=bool)

    def need(name: str) -> Any:
        c = _col(facets, name)
        if c is None:
            mask[:] = False
        return c

    if filters.chains and (c := need("chains")) is not None:
        mask &= _list_any(c, filters.chains, prefix=False)
    if filters.ipc_prefix and (c := need("ipc")) is not None:
        mask &= _list_any(c, filters.ipc_prefix, prefix=True)
    if filters.applicant_types and (c := need("applicant_type")) is not None:
        mask &= c.is_in(list(filters.applicant_types)).fill_null(False).to_numpy()
    if filters.regions and (c := need("region")) is not None:
        hit = np.zeros(n, dtype=bool)
        for r in filters.regions:
            hit |= c.str.starts_with(r).fill_null(False).to_numpy()
        mask &= hit
    if filters.valid_only and (c := _col(facets, "legal_valid")) is not None:
        mask &= c.fill_null(False).to_numpy().astype(bool)
    if filters.date_from or filters.date_to:
        c = need("date")
        if c is not None:
            null_ok = side == "demands"
            ok = np.ones(n, dtype=bool)
            if filters.date_from:
                ok &= (c >= filters.date_from).fill_null(null_ok).to_numpy()
            if filters.date_to:
                ok &= (c.str.slice(0, 10) <= filters.date_to).fill_null(null_ok).to_numpy()
            mask &= ok
    if filters.open_license_only and (c := need("open_license")) is not None:
        mask &= c.fill_null(False).to_numpy().astype(bool)
    if filters.grades and (c := need("grade")) is not None:
        mask &= c.is_in(list(filters.grades)).fill_null(False).to_numpy()
    if filters.min_grade is not None and (c := need("grade")) is not None:
        ok = list(GRADES[: GRADES.index(filters.min_grade) + 1])
        mask &= c.is_in(ok).fill_null(False).to_numpy()
    if filters.min_trl is not None and (c := need("trl")) is not None:
        mask &= (c >= filters.min_trl).fill_null(False).to_numpy()
    if filters.max_required_trl is not None and (c := need("trl")) is not None:
        # a demand that states no required readiness accepts any
        mask &= (c <= filters.max_required_trl).fill_null(True).to_numpy()
    if filters.max_fee_wan is not None and (c := need("fee_wan")) is not None:
        mask &= (c <= filters.max_fee_wan).fill_null(False).to_numpy()
    if filters.owners and (c := need("owner")) is not None:
        mask &= c.is_in(list(filters.owners)).fill_null(False).to_numpy()
    if filters.hide_confidential and (c := _col(facets, "confidential")) is not None:
        conf = c.fill_null(False).to_numpy().astype(bool)
        if filters.viewer is not None and (o := _col(facets, "owner")) is not None:
            own = (o == filters.viewer).fill_null(False).to_numpy()
            conf &= ~own
        mask &= ~conf
    return None if mask.all() else mask


__all__ = ["GRADES", "Filters", "mask_for", "normalize_ipc"]
