"""What a column may hold: typed cells checked before the field rules.

Parquet and JSONL cells arrive typed (numbers, booleans, dates, lists, structs, NaN); CSV
and XLSX cells arrive as text (XLSX numbers as ``789``, booleans as ``true``, date cells as
``2021-03-05 00:00:00``). ``check_cells`` looks at every canonical field of one row and
either passes the cell on, coerces it and counts the coercion in ``stats`` (the ingest
report's ``cleaned``: "ingest says what it did"), or raises ``RecordValidationError``
naming the field, what was expected and what arrived (a row-level reject). Never silently
turned into text: a title of ``789`` is a shifted or mistyped column, not a title.

The rules (docs/ingestion.md, "Typed cells"):

- long text (title, abstract, claims, text, problem, means, effect) and the names of
  parties (applicant, enterprise, contact_name, assignor, assignee): text only; a number,
  a true/false value, a date or a list (typed, or as text such as ``789`` or
  ``2021-03-05 00:00:00``) rejects the row;
- dates: text, dates and datetimes; a number is an Excel serial day (counted as
  ``excel_serial_date(<field>)``) or a compact ``20210305``; the plausible range is checked
  by ``normalize.normalize_date`` (9999-12-31, 1899-12-30 reject);
- yes/no fields: booleans, or text/0/1 read by ``normalize.parse_bool``;
- counts and amounts: numbers, or text read by the field rule;
- list fields (ipc, inventors): a list of text, or text;
- every other field (ids, names, phones, budget ...): text; a whole number is written as
  text and counted (``number_as_text(<field>)``), a fractional number in an id-like field,
  a true/false value, a date or a list rejects the row;
- NaN/NaT (a float or date that is not there) and placeholder text (``nan``, ``None``,
  ``null``, ``#N/A``, ``NaT``, ``#VALUE!`` ...) are empty cells, counted as
  ``placeholder_as_empty(<field>)``; a required field then rejects as missing;
- structs (a Parquet struct, a JSON object) and bytes reject the row everywhere;
- Excel error cells (``#DIV/0!``, ``#N/A``, ``#VALUE!``, ``#REF!``, ``#NAME?``, ``#NUM!``,
  ``#NULL!``: a formula that failed in the workbook; the XLSX reader hands them on as
  ``ExcelError``): in a required field the row is rejected naming the error, elsewhere the
  cell is empty and counted as ``excel_error_as_empty(<field>)`` (the ingest report lists
  each one with its row, column and error).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from patmatch.errors import RecordValidationError

LONG_TEXT = frozenset({"title", "abstract", "claims", "text", "problem", "means", "effect"})
# names of parties: a number or a date is never a name
NAMES = frozenset({"applicant", "enterprise", "contact_name", "assignor", "assignee"})
TEXT_ONLY = LONG_TEXT | NAMES
DATES = frozenset({"application_date", "publication_date", "deadline", "effective_date"})
YES_NO = frozenset({"open_license", "confidential"})
NUMBERS = frozenset({"trl", "required_trl", "citations", "transfer_count", "license_count",
                     "license_fee_wan", "amount_wan"})
LISTS = frozenset({"ipc", "inventors"})
ID_LIKE = frozenset({"id", "patent_id", "source_ref", "contact_phone"})
_EXCEL_EPOCH = _dt.date(1899, 12, 30)
_PLACEHOLDERS = frozenset({"nan", "none", "null", "nil", "#n/a", "n/a", "nat", "#value!",
                           "#ref!", "#div/0!", "#name?", "#num!", "#null!", "undefined"})
_BARE_NUMBER = re.compile(r"^[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_BARE_BOOL = frozenset({"true", "false"})
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


# calamine's names of the Excel error values (fastexcel reports ``Error(Div0)``)
_EXCEL_ERROR_CODES = {"div0": "#DIV/0!", "na": "#N/A", "value": "#VALUE!", "ref": "#REF!",
                      "name": "#NAME?", "num": "#NUM!", "null": "#NULL!",
                      "gettingdata": "#GETTING_DATA"}


@dataclass(frozen=True)
class ExcelError:
    """An error cell of a workbook (``#DIV/0!``, ``#N/A`` ...): what Excel shows for a
    formula that failed. Not text and not empty: ``check_cells`` decides (see the rules)."""

    code: str

    @classmethod
    def from_detail(cls, detail: str) -> ExcelError:
        """From fastexcel's cell-error detail (``Expected string but got 'Error(Div0)'``)."""
        m = re.search(r"Error\((\w+)\)", detail)
        name = m.group(1) if m else detail
        return cls(_EXCEL_ERROR_CODES.get(name.lower(), f"#{name.upper()}"))

    def __str__(self) -> str:
        return self.code


def _count(stats: dict[str, int], what: str, field_: str) -> None:
    key = f"{what}({field_})"
    stats[key] = stats.get(key, 0) + 1


def _reject(field_: str, arrived: str, value: Any, expected: str) -> RecordValidationError:
    shown = repr(value)[:80]
    return RecordValidationError(f"{field_} is {arrived} ({shown}); expected {expected}",
                                 details={"field": field_, "value": shown})


def _expected(field_: str) -> str:
    if field_ in TEXT_ONLY:
        return "text"
    if field_ in DATES:
        return "a date"
    if field_ in YES_NO:
        return "a yes/no value"
    if field_ in NUMBERS:
        return "a number"
    return "text"


def _is_missing_number(value: Any) -> bool:
    return isinstance(value, float) and (math.isnan(value) or math.isinf(value))


def _serial_date(value: float, field_: str, stats: dict[str, int]) -> Any:
    """A number in a date column: ``20210305`` (compact) or an Excel serial day."""
    if value != int(value):
        raise _reject(field_, "a fractional number", value, "a date")
    n = int(value)
    if 10_000_000 <= n <= 99_999_999:
        return str(n)  # 20210305: read by normalize_date like the text form
    if not 0 <= n <= 2_958_465:  # Excel's last day is 9999-12-31
        raise _reject(field_, "a number", value, "a date")
    _count(stats, "excel_serial_date", field_)
    return _EXCEL_EPOCH + _dt.timedelta(days=n)  # 0 -> 1899-12-30: implausible, rejected later


def _typed(field_: str, value: Any, stats: dict[str, int]) -> Any:
    """A cell that is not text (Parquet, JSONL)."""
    if isinstance(value, bool):
        if field_ in YES_NO:
            return value
        raise _reject(field_, "a true/false value", value, _expected(field_))
    if isinstance(value, (int, float, Decimal)):
        if _is_missing_number(value) or (isinstance(value, Decimal) and not value.is_finite()):
            _count(stats, "placeholder_as_empty", field_)
            return None
        if field_ in NUMBERS or field_ in YES_NO:  # parse_bool reads 0/1
            return value
        if field_ in DATES:
            return _serial_date(float(value), field_, stats)
        if field_ in TEXT_ONLY:
            raise _reject(field_, "a number", value, "text")
        if value != int(value):
            if field_ in ID_LIKE:
                raise _reject(field_, "a fractional number", value, "text")
            _count(stats, "number_as_text", field_)
            return str(value)
        _count(stats, "number_as_text", field_)
        return str(int(value))
    if isinstance(value, (_dt.date, _dt.datetime)):
        if field_ in DATES:
            return value
        raise _reject(field_, "a date", value, _expected(field_))
    if isinstance(value, (list, tuple)):
        if field_ in LISTS and all(isinstance(v, str) or v is None for v in value):
            return value
        raise _reject(field_, "a list", value, "one value" if field_ not in LISTS
                      else "a list of text")
    if isinstance(value, dict):
        raise _reject(field_, "a nested record", value, _expected(field_))
    raise _reject(field_, f"a {type(value).__name__}", value, _expected(field_))


def _textual(field_: str, value: str, stats: dict[str, int]) -> str | None:
    """A text cell (CSV, XLSX, or text in a typed file): placeholders and, in long text,
    values that are clearly another type written as text."""
    if len(value) > 40:  # no placeholder, number or date is this long (claims run to 200k)
        return value
    s = value.strip()
    low = s.lower()
    if low in _PLACEHOLDERS:
        _count(stats, "placeholder_as_empty", field_)
        return None
    if field_ in TEXT_ONLY and s:
        if _BARE_NUMBER.match(s):
            raise _reject(field_, "only a number", value, "text (a shifted or mistyped column?)")
        if low in _BARE_BOOL:
            raise _reject(field_, "a true/false value", value, "text")
        if _BARE_DATE.match(s):
            raise _reject(field_, "a date", value, "text")
    if field_ in DATES and re.fullmatch(r"\d{5}(?:\.0+)?", s):
        _count(stats, "excel_serial_date", field_)  # normalize_date converts it
    return value


def _excel_error(field_: str, value: ExcelError, stats: dict[str, int],
                 required: Collection[str]) -> None:
    if field_ in required:
        raise RecordValidationError(
            f"{field_} is the Excel error {value.code} (a formula that failed in the "
            "workbook); a required field needs a value: fix the formula or type the value",
            details={"field": field_, "value": value.code})
    _count(stats, "excel_error_as_empty", field_)


def check_cells(row: dict[str, Any], stats: dict[str, int], *,
                required: Collection[str] = ()) -> dict[str, Any]:
    """``row`` with every canonical field's cell checked (see the module rules); raises
    ``RecordValidationError`` for a cell of the wrong type, and for an Excel error cell in
    a ``required`` field. Keys starting with ``__`` (reader notes) pass untouched."""
    out: dict[str, Any] = {}
    for field_, value in row.items():
        if value is None or field_.startswith("__"):
            out[field_] = value
        elif isinstance(value, ExcelError):
            _excel_error(field_, value, stats, required)
            out[field_] = None
        elif isinstance(value, str):
            out[field_] = _textual(field_, value, stats)
        else:
            out[field_] = _typed(field_, value, stats)
    return out


__all__ = ["DATES", "ExcelError", "LISTS", "LONG_TEXT", "NAMES", "NUMBERS", "TEXT_ONLY", "YES_NO",
           "check_cells"]
