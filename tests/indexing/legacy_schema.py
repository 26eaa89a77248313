"""The schema written by the last release before Alembic (main at 5278b6c), verbatim:
``indexing/store/record_store.py`` MIGRATIONS[1] plus its ``schema_version`` table. Tests
build an old store with it and check that the upgrade keeps every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

STORE_V1 = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    """CREATE TABLE patents (
            id TEXT PRIMARY KEY, content_sha TEXT NOT NULL, text_sha TEXT NOT NULL,
            data TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX patents_text_sha ON patents(text_sha)",
    """CREATE TABLE demands (
            id TEXT PRIMARY KEY, content_sha TEXT NOT NULL, text_sha TEXT NOT NULL,
            data TEXT NOT NULL, contact_enc TEXT, owner TEXT,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX demands_text_sha ON demands(text_sha)",
    "CREATE INDEX demands_owner ON demands(owner, status)",
    """CREATE TABLE label_sets (
            side TEXT PRIMARY KEY CHECK (side IN ('patents', 'demands')),
            version TEXT NOT NULL, saved_at TEXT NOT NULL)""",
    """CREATE TABLE labels (
            side TEXT NOT NULL REFERENCES label_sets(side) ON DELETE CASCADE,
            record_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (side, record_id))""",
    "INSERT INTO schema_version (version, applied_at) VALUES (1, '2026-11-01T00:00:00+00:00')",
)

T = "2026-11-02T08:00:00+00:00"


def make_old_store(path: Path, *, patents: int = 3, demands: int = 2) -> None:
    """A store.sqlite3 as the old code left it: records, a deleted demand, labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    with con:
        for stmt in STORE_V1:
            con.execute(stmt)
        con.executemany("INSERT INTO patents VALUES (?,?,?,?,?,?)",
                        [(f"CN{i:06d}A", f"c{i}", f"t{i}", '{"id": "CN%06dA", "title": "电池"}' % i,
                          T, T) for i in range(patents)])
        con.executemany("INSERT INTO demands VALUES (?,?,?,?,?,?,?,?,?)",
                        [(f"D{i}", f"c{i}", f"t{i}", '{"id": "D%d"}' % i, "gAAAA-token", "centre-a",
                          "deleted" if i == 0 else "active", T, T) for i in range(demands)])
        con.execute("INSERT INTO label_sets VALUES ('patents', 'v1', ?)", (T,))
        con.execute("INSERT INTO labels VALUES ('patents', 'CN000000A', '{\"chain\": \"ev\"}')")
    con.close()


# ``api/db.py`` _SCHEMA of the releases that kept the API in a second file, verbatim
# (``<home>/api.sqlite3``: keys, audit log, jobs; main up to 9cd59b9).
API_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    centre      TEXT,
    chains      TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    last_used_at TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts           TEXT NOT NULL,
    key_id       TEXT,
    key_name     TEXT,
    role         TEXT,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT,
    query        TEXT,
    result_count INTEGER,
    status       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_key ON audit_log(key_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE IF NOT EXISTS jobs (
    job_id      TEXT PRIMARY KEY,
    key_id      TEXT,
    status      TEXT NOT NULL,
    params      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    progress    REAL NOT NULL DEFAULT 0,
    rows        INTEGER,
    error       TEXT,
    result_path TEXT,
    input_name  TEXT
);
"""

# the key the old file holds (only its sha256 is stored, as the old KeyStore did)
OLD_KEY = "pm_0ld0ld01_legacy-secret-of-the-old-api-file-000000000000"


def make_old_api_db(path: Path, *, audit_rows: int = 2, wal_tail: int = 0) -> None:
    """An api.sqlite3 as the old API left it: a centre key (``OLD_KEY``), a revoked key,
    ``audit_rows`` audit entries (seq 1..n), a finished job. With ``wal_tail``, that many
    more audit entries are left in the write-ahead log only (the file as a killed server
    leaves it: ``api.sqlite3`` plus ``api.sqlite3-wal``)."""
    import hashlib
    import shutil

    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(path.name + ".building")
    con = sqlite3.connect(work, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(API_V1)
    con.execute("INSERT INTO schema_version VALUES (1)")
    digest = hashlib.sha256(OLD_KEY.encode()).hexdigest()
    con.execute("INSERT INTO api_keys (key_id, key_hash, name, role, centre, chains, created_at) "
                "VALUES ('0ld0ld01', ?, '中心A', 'centre', 'cz-nev', '[\"nev\"]', ?)", (digest, T))
    con.execute("INSERT INTO api_keys (key_id, key_hash, name, role, created_at, revoked_at) "
                "VALUES ('0ld0ld02', 'h2', '旧分析员', 'analyst', ?, ?)", (T, T))
    audit = ("INSERT INTO audit_log (ts, key_id, key_name, role, method, path, action, target, "
             "result_count, status) VALUES (?, '0ld0ld01', '中心A', 'centre', 'GET', "
             "'/v1/demands/D1/matches', 'match.demand', 'D1', 10, 200)")
    con.executemany(audit, [(T,)] * audit_rows)
    con.execute("INSERT INTO jobs (job_id, key_id, status, params, created_at, updated_at, "
                "progress, rows) VALUES ('job-old', '0ld0ld01', 'succeeded', "
                "'{\"kind\": \"match\", \"format\": \"csv\"}', ?, ?, 1.0, 7)", (T, T))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if wal_tail:
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.executemany(audit, [(T,)] * wal_tail)
        # copy while the writer is still open: the tail exists only in the -wal file
        for suffix in ("", "-wal"):
            shutil.copyfile(f"{work}{suffix}", f"{path}{suffix}")
        con.close()
    else:
        con.close()
        shutil.copyfile(work, path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
