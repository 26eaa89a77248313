"""Where ingest cleaned something: the rows behind each counter, and the Excel error cells.

The ingest report's ``cleaned`` counts rows per kind of cleaning (``number_as_text(id)``,
``placeholder_as_empty(deadline)``, ``html_stripped`` ...). ``Findings`` keeps, beside each
count, the first ``SAMPLE_ROWS`` rows it happened in (``file:row``, the row a person finds
in the spreadsheet), so a coercion can be checked in the source like a reject; and every
Excel error cell (``#DIV/0!``, ``#N/A`` ...) with its row, column, error and what was done
(the first ``SAMPLE_ERRORS`` of them; ``excel_error_cells`` counts all).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from indexing.intake.cells import ExcelError

SAMPLE_ROWS = 10     # rows listed per counter
SAMPLE_ERRORS = 100  # Excel error cells listed per run


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[str]] = field(default_factory=dict)
    excel_errors: list[dict[str, Any]] = field(default_factory=list)
    excel_error_cells: int = 0

    def add_row(self, source: str, row: int, row_stats: Mapping[str, int]) -> None:
        """One accepted row's cleanings (counted once per row, whatever the fields)."""
        for what in row_stats:
            self.counts[what] = self.counts.get(what, 0) + 1
            seen = self.rows.setdefault(what, [])
            if len(seen) < SAMPLE_ROWS:
                seen.append(f"{source}:{row}")

    def excel_cells(self, source: str, row: int, cells: Mapping[str, Any],
                    columns: Mapping[str, str], required: Collection[str]) -> None:
        """The Excel error cells of one row (canonical field -> cell); ``columns`` maps a
        canonical field back to the header the file has."""
        for name, value in cells.items():
            if not isinstance(value, ExcelError):
                continue
            self.excel_error_cells += 1
            if len(self.excel_errors) < SAMPLE_ERRORS:
                self.excel_errors.append({
                    "source": source, "row": row, "column": columns.get(name, name),
                    "field": name, "error": value.code,
                    "action": "rejected" if name in required else "empty"})


__all__ = ["SAMPLE_ERRORS", "SAMPLE_ROWS", "Findings"]
