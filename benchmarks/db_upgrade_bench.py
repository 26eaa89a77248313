"""Time of ``patmatch db upgrade`` on both backends: a fresh (empty) database, and a store
the previous release left (records at 0002_push with N patents, plus an ``api.sqlite3``
with keys, M audit entries and jobs, moved in by migration 0003_api).

    python -m benchmarks.db_upgrade_bench --postgres URL [--patents 20000] [--audit 100000]

Without ``--postgres`` only SQLite is measured. Each case runs the real CLI in a fresh
process (imports included, as an operator sees it). Results: benchmarks/results/db_upgrade.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the tables of the old api.sqlite3 (api/db.py up to 9cd59b9; tests/indexing/legacy_schema.py
# keeps the full text with its triggers)
API_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    role TEXT NOT NULL, centre TEXT, chains TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL,
    revoked_at TEXT, last_used_at TEXT);
CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, key_id TEXT,
    key_name TEXT, role TEXT, method TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT, query TEXT, result_count INTEGER, status INTEGER NOT NULL);
CREATE INDEX audit_key ON audit_log(key_id, seq);
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, key_id TEXT, status TEXT NOT NULL,
    params TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0, rows INTEGER, error TEXT, result_path TEXT,
    input_name TEXT);
"""


def _fill(url: str, home: Path, patents: int, audit: int) -> None:
    """The previous release's database: 0002_push with ``patents`` rows, and api.sqlite3."""
    import sqlalchemy as sa

    from indexing.store import schema
    from indexing.store.database import create_db_engine, write_transaction

    engine = create_db_engine(url)
    try:
        schema.upgrade(engine, revision="0002_push")
        now = "2026-11-02T08:00:00+00:00"
        rows = [{"id": f"CN{i:09d}A", "content_sha": f"c{i}", "text_sha": f"t{i}",
                 "data": json.dumps({"id": f"CN{i:09d}A", "title": "一种锂离子电池低温电解液",
                                     "abstract": "本发明公开了一种低温电解液。" * 10},
                                    ensure_ascii=False),
                 "created_at": now, "updated_at": now} for i in range(patents)]
        with write_transaction(engine) as conn:
            conn.execute(sa.text("INSERT INTO patents (id, content_sha, text_sha, data, "
                                 "created_at, updated_at) VALUES (:id, :content_sha, "
                                 ":text_sha, :data, :created_at, :updated_at)"), rows)
    finally:
        engine.dispose()
    import sqlite3

    con = sqlite3.connect(home / "api.sqlite3")
    with con:
        con.executescript(API_V1)
        con.execute("INSERT INTO schema_version VALUES (1)")
        con.executemany("INSERT INTO api_keys (key_id, key_hash, name, role, created_at) "
                        "VALUES (?, ?, ?, 'centre', ?)",
                        [(f"k{i:04d}", f"h{i}", f"中心{i}", now) for i in range(50)])
        con.executemany("INSERT INTO audit_log (ts, key_id, role, method, path, action, target, "
                        "result_count, status) VALUES (?, ?, 'centre', 'GET', "
                        "'/v1/demands/D1/matches', 'match.demand', 'D1', 10, 200)",
                        [(now, f"k{i % 50:04d}") for i in range(audit)])
        con.executemany("INSERT INTO jobs (job_id, key_id, status, params, created_at, "
                        "updated_at) VALUES (?, 'k0001', 'succeeded', '{}', ?, ?)",
                        [(f"job-{i}", now, now) for i in range(200)])
    con.close()


def _upgrade(url: str, home: Path) -> tuple[float, str]:
    env = {**os.environ, "PATMATCH_HOME": str(home), "PATMATCH_DATABASE_URL": url,
           "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "db",
                          "upgrade"], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout


def _inner_seconds(stdout: str) -> float:
    import re

    m = re.search(r"（([\d.]+) 秒）", stdout)
    return float(m.group(1)) if m else float("nan")


def _pg_url(server: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {name}"))
    admin.dispose()
    url = make_url(server).update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False), name


def _drop(server: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", help="a PostgreSQL URL the benchmark may create schemas in")
    ap.add_argument("--patents", type=int, default=20000)
    ap.add_argument("--audit", type=int, default=100000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/db_upgrade.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    results: dict = {"patents": args.patents, "audit_entries": args.audit,
                     "load_average": os.getloadavg(), "cpus": os.cpu_count(), "runs": []}
    for backend in backends:
        for case in ("fresh", "previous_release"):
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                schema_name = None
                if backend == "sqlite":
                    url = f"sqlite:///{home / 'store.sqlite3'}"
                else:
                    url, schema_name = _pg_url(args.postgres)
                try:
                    if case == "previous_release":
                        _fill(url, home, args.patents, args.audit)
                    wall, out = _upgrade(url, home)
                finally:
                    if schema_name:
                        _drop(args.postgres, schema_name)
            run = {"backend": backend, "case": case, "process_seconds": round(wall, 2),
                   "upgrade_seconds": _inner_seconds(out)}
            print(json.dumps(run, ensure_ascii=False), flush=True)
            results["runs"].append(run)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
