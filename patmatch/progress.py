"""One progress bar for the long commands (ingest, label, nightly): counted records, rate
and ETA on stderr, and only when that stream is a terminal, so cron, CI and pipes stay
quiet. The total may grow while the bar runs (ingest learns each file's row count when it
has read the file); ETA is then over the rows known so far.

    with ProgressBar(n, "标引 专利") as bar:
        bar(256)            # 256 more records done
        bar.grow(1000)      # 1000 more records to do
"""

from __future__ import annotations

import sys
from typing import IO, Any

BAR_FORMAT = "{desc} {bar:20} {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]"


def is_terminal(stream: IO[str] | Any) -> bool:
    """True when ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ProgressBar:
    """A tqdm bar with rate and ETA on ``stream`` (default stderr) when it is a terminal;
    otherwise every call is a no-op and nothing is written. ``force`` overrides the
    terminal check (True: always draw, False: never)."""

    def __init__(self, total: int, desc: str, *, unit: str = "条",
                 stream: IO[str] | None = None, force: bool | None = None) -> None:
        self.total, self.desc, self.unit = max(int(total), 0), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.show = is_terminal(self.stream) if force is None else force
        self.n = 0  # records done so far (counted whether or not a bar is drawn)
        self._bar: Any = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> Any:
        if self._bar is None and self.show and self.total > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit,
                             file=self.stream, bar_format=BAR_FORMAT, mininterval=0.2)
        return self._bar

    def __call__(self, n: int) -> None:
        """``n`` more records done."""
        self.n += n
        bar = self._open()
        if bar is not None and n:
            bar.update(n)

    update = __call__

    def grow(self, n: int) -> None:
        """``n`` more records to do (the total so far grows)."""
        if n <= 0:
            return
        self.total += n
        bar = self._bar
        if bar is None:
            self._open()
        else:
            bar.total = self.total
            bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = ["BAR_FORMAT", "ProgressBar", "is_terminal"]
