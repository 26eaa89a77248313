"""The API's tables: keys, the append-only audit log, batch jobs (owned by ``api/``).

They live in the one database with the records. Earlier releases kept them in a second
SQLite file, ``<home>/api.sqlite3``; migration 0003_api moves its rows here once (and the
file is renamed ``api.sqlite3.moved``). The audit log is append-only on both backends:
triggers refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE); see
:func:`audit_append_only_ddl`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, Table, Text

from indexing.store.database import byte_ordered, metadata

# SQLite's AUTOINCREMENT needs exactly INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit
# sequence (an audit log of every request outgrows 2^31 on a busy platform).
SEQ = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", byte_ordered(Text()), primary_key=True),
    Column("key_hash", Text, nullable=False, unique=True),  # sha256 of the key, never the key
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("centre", Text),
    Column("chains", Text, nullable=False, server_default="[]"),  # JSON list
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text),
    Column("last_used_at", Text),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("ts", Text, nullable=False),
    Column("key_id", Text),
    Column("key_name", Text),
    Column("role", Text),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("query", Text),  # masked (indexing.privacy.mask_pii) and cut before it is stored
    Column("result_count", Integer),
    Column("status", Integer, nullable=False),
    Index("ix_audit_log_key_id_seq", "key_id", "seq"),
    Index("ix_audit_log_ts", "ts"),
    sqlite_autoincrement=True,  # seq is never reused, as in the old api.sqlite3
)

jobs = Table(
    "jobs", metadata,
    Column("job_id", byte_ordered(Text()), primary_key=True),
    Column("key_id", Text),
    Column("status", Text, nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("rows", Integer),
    Column("error", Text),
    Column("result_path", Text),
    Column("input_name", Text),
)

API_TABLES = (api_keys, audit_log, jobs)
APPEND_ONLY_MESSAGE = "audit_log is append-only"
# the trigger names, per backend: what the migration creates and what reports check
AUDIT_TRIGGERS = {"sqlite": ("audit_no_update", "audit_no_delete"),
                  "postgresql": ("audit_no_update_delete", "audit_no_truncate")}


def audit_append_only_ddl(dialect: str) -> list[str]:
    """The statements that make ``audit_log`` refuse UPDATE and DELETE (and TRUNCATE on
    PostgreSQL). Migration 0003_api runs them; they are idempotent."""
    msg = APPEND_ONLY_MESSAGE
    if dialect == "sqlite":
        return [f"CREATE TRIGGER IF NOT EXISTS audit_no_{op.lower()} BEFORE {op} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{msg}'); END" for op in ("UPDATE", "DELETE")]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{msg}' "
            "USING ERRCODE = 'insufficient_privilege'; END $$",
            "DROP TRIGGER IF EXISTS audit_no_update_delete ON audit_log",
            "CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
            "DROP TRIGGER IF EXISTS audit_no_truncate ON audit_log",
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
        ]
    raise ValueError(f"no append-only DDL for dialect {dialect!r}")


__all__ = ["API_TABLES", "APPEND_ONLY_MESSAGE", "AUDIT_TRIGGERS", "api_keys", "audit_append_only_ddl",
           "audit_log", "jobs"]
