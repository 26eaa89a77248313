"""Transfer statistics at scale: N generated events ingested, then the five reports.

``python -m benchmarks.transfer_bench --events 1000000`` writes
``benchmarks/results/transfers-<N>.{json,md}``. Goal: the five reports in <= 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.report import machine_info
from patmatch.atomic_io import atomic_write_text

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--patents", type=int, default=2000)
    ap.add_argument("--period", default="2025")
    ap.add_argument("--note", default="shared machine: 2 cores used by ~8 helpers at the time")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ["PATMATCH_HOME"] = str(home)
        import polars as pl

        from api.reports.transfer_archive import generate as report
        from indexing.intake.ingest import ingest_files
        from indexing.intake.transfers import PatentIndex, ingest_transfers
        from indexing.store.record_store import open_store
        from indexing.store.tables_transfers import open_transfers
        from indexing.training.demo_data import generate
        from indexing.training.demo_data.transfers import HEADERS_ZH, transfer_rows
        from patmatch.settings import get_settings

        get_settings.cache_clear()
        s = get_settings()
        times: dict[str, float] = {}
        demo = generate(Path(tmp) / "demo", a.patents, 0, seed=1)
        with open_store(s) as store:
            ingest_files("patents", demo.patent_files, store, rejects_dir=None)
            patents = [{"id": p.id, "applicant": p.applicant, "region": p.region}
                       for p in store.iter_patents()]
            index = PatentIndex.from_store(store)
        t = time.perf_counter()
        rows = list(transfer_rows(patents, a.events, seed=1))
        per = -(-len(rows) // a.files)
        files = []
        for i in range(a.files):
            f = Path(tmp) / f"transfers-{i:02d}.parquet"
            pl.DataFrame([{HEADERS_ZH[k]: (None if v in ("", None) else str(v))
                           for k, v in r.items()} for r in rows[i * per:(i + 1) * per]],
                         schema={h: pl.Utf8 for h in HEADERS_ZH.values()}).write_parquet(f)
            files.append(f)
        del rows
        times["generate_files"] = time.perf_counter() - t
        t = time.perf_counter()
        rep = ingest_transfers(files, open_transfers(s), patents=index)
        times["ingest"] = time.perf_counter() - t
        reports = {}
        t_all = time.perf_counter()
        for kind, region in (("annual", None), ("quarterly", None), ("chain", None),
                             ("institution", None), ("flow", "常州市")):
            t = time.perf_counter()
            doc, meta = report(s, kind, a.period if kind != "quarterly" else f"{a.period}Q4",
                               region)
            reports[kind] = {"seconds": round(time.perf_counter() - t, 2),
                             "conversions": doc["totals"]["conversions"], "id": meta.id}
        times["five_reports"] = time.perf_counter() - t_all
    out = {"events": a.events, "files": a.files, "ingest": rep.to_dict(),
           "seconds": {k: round(v, 2) for k, v in times.items()}, "reports": reports,
           "goal_reports_seconds": 60, "met": times["five_reports"] <= 60,
           "machine": machine_info() | {"note": a.note}}
    stem = RESULTS / f"transfers-{a.events}"
    atomic_write_text(stem.with_suffix(".json"), json.dumps(out, ensure_ascii=False, indent=2,
                                                       default=str))
    md = [f"# Transfer statistics: {a.events:,} events", "",
          f"Machine: {out['machine'].get('cpus')} CPUs, {out['machine'].get('memory_gib')} GiB "
          f"— {a.note}.", "",
          f"- ingest ({a.files} Parquet files, Chinese headers): {times['ingest']:.1f} s — "
          f"{rep.equation()}",
          f"- five reports (first one reads the database and caches it as Parquet): "
          f"{times['five_reports']:.1f} s (goal ≤ 60 s: {'met' if out['met'] else 'missed'})", ""]
    md += [f"  - {k}: {v['seconds']} s ({v['conversions']} conversions)" for k, v in reports.items()]
    atomic_write_text(stem.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
