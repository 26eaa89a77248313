"""Where a build's memory goes: ``patmatch build`` on the store of ``PATMATCH_HOME`` with
the resident set size read at the end of every stage (issue 19).

    PATMATCH_HOME=... nice -n 10 python -m benchmarks.build_memory [--chunk-rows N] [--out F]

A streamed build enters its stages once per chunk; each stage reports how often it ran,
the largest RSS seen at its end and when it first/last ended (seconds from the start).
The peak RSS (``ru_maxrss``) counts mapped file pages too. The JSON goes to ``--out``
(default: printed); the results of 2026-12-06 are in
``benchmarks/results/scaling-2026-12-06.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _peak_mb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def profile_build(chunk_rows: int | None = None) -> dict[str, Any]:
    """Build from the configured store, recording RSS per stage (wraps ``StageTimer``)."""
    import psutil

    from indexing.build import stage_timer
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build
    from indexing.store.record_store import open_store
    from patmatch.settings import get_settings

    proc, t0 = psutil.Process(), time.perf_counter()
    stages: dict[str, dict[str, Any]] = {}
    timed = stage_timer.StageTimer.stage

    @contextmanager
    def stage(self: Any, name: str) -> Iterator[None]:
        with timed(self, name):
            yield
        d = stages.setdefault(name, {"n": 0, "rss_max_mb": 0, "first_end_s": None})
        d["n"] += 1
        d["rss_max_mb"] = max(d["rss_max_mb"], proc.memory_info().rss >> 20)
        d["last_end_s"] = round(time.perf_counter() - t0, 1)
        d["first_end_s"] = d["first_end_s"] or d["last_end_s"]

    stage_timer.StageTimer.stage = stage  # type: ignore[method-assign]
    try:
        settings = get_settings()
        kw = {"chunk_rows": chunk_rows} if chunk_rows else {}
        with open_store(settings) as store:
            bid = build(store, settings, BuildConfig(), **kw)
    finally:
        stage_timer.StageTimer.stage = timed  # type: ignore[method-assign]
    path = settings.staging_dir / bid
    m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    return {"build_id": bid, "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": _peak_mb(),
            "bundle_mb": round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                               / 2**20, 1),
            "counts": m["counts"], "timings": m["timings"], "sides": m["sides"],
            "stages": stages, "load_average_after": list(os.getloadavg())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk-rows", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    res = profile_build(args.chunk_rows)
    text = json.dumps(res, indent=1, ensure_ascii=False)
    if args.out is None:
        print(text)
    else:
        from patmatch.atomic_io import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
