"""Build progress: stage names on a progress bar (stderr), per-stage wall times, peak RSS."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from indexing.build.build_config import STAGES
from patmatch.progress import is_terminal


def peak_rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class StageTimer:
    """Stage names on a progress bar (stderr) plus per-stage wall times."""

    def __init__(self, show: bool, stages: Sequence[str] = STAGES) -> None:
        self.timings: dict[str, float] = {}
        self._bar = None
        if show and is_terminal(sys.stderr):  # cron, CI and pipes stay quiet
            from tqdm import tqdm

            self._bar = tqdm(total=len(stages), desc="build", unit="stage", file=sys.stderr,
                             bar_format="{desc:<18} {bar:20} {n_fmt}/{total_fmt} [{elapsed}]")

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._bar is not None:
            self._bar.set_description(f"build: {name}")
        t0 = time.perf_counter()
        yield
        first = name not in self.timings  # a streamed build enters stages once per chunk
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)
        if self._bar is not None and first:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_description("build: done")
            self._bar.close()
