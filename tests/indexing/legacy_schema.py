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
