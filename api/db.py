"""The API's own SQLite file (``<home>/api.sqlite3``): keys, audit log, batch jobs.

Kept apart from the records store: access control and audit must not depend on the store
backend, and the records store never sees API keys. One connection per thread (sqlite3
connections are not shareable across threads); WAL so readers never block the writer,
and a busy timeout so several worker processes can share the file.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from indexing.privacy import private_file

SCHEMA_VERSION = 1

_SCHEMA = """
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
-- append-only: the log can be read and appended to, never edited or shortened
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


class ApiDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_file(self.path)  # keys, audit and jobs: 0600 (its -wal/-shm follow)
        self._local = threading.local()
        self.write_lock = threading.Lock()
        conn = self.conn()
        with self.write_lock, conn:
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=10000")
            self._local.conn = c
        return c

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self.write_lock:
            return self.conn().execute(sql, params)

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.conn().execute(sql, params).fetchall()


def api_db_path(home: Path) -> Path:
    return Path(home) / "api.sqlite3"
