"""API tables in the one database: keys, the append-only audit log, batch jobs.

Earlier releases kept them in a second SQLite file, ``<home>/api.sqlite3``. When the
upgrade is handed that file (``schema.upgrade(legacy_api_db=...)``, which opening the
database and ``patmatch db upgrade`` both do), its rows move in here in the same
transaction; the caller renames the file ``api.sqlite3.moved`` after the commit. A file
that cannot be read stops the upgrade with nothing changed (the file is left in place).

Revision ID: 0003_api
Revises: 0002_push
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0003_api"
down_revision = "0002_push"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tables() -> dict[str, sa.Table]:
    """The tables as of this revision (frozen here: a later change gets its own revision)."""
    md = sa.MetaData()
    api_keys = sa.Table(
        "api_keys", md,
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("centre", sa.Text),
        sa.Column("chains", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.Text),
        sa.Column("last_used_at", sa.Text),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    audit_log = sa.Table(
        "audit_log", md,
        sa.Column("seq", _SEQ, nullable=False, autoincrement=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("key_name", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("query", sa.Text),
        sa.Column("result_count", sa.Integer),
        sa.Column("status", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.Index("ix_audit_log_key_id_seq", "key_id", "seq"),
        sa.Index("ix_audit_log_ts", "ts"),
        sqlite_autoincrement=True,
    )
    jobs = sa.Table(
        "jobs", md,
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("rows", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("result_path", sa.Text),
        sa.Column("input_name", sa.Text),
        sa.PrimaryKeyConstraint("job_id", name="pk_jobs"),
    )
    return {"api_keys": api_keys, "audit_log": audit_log, "jobs": jobs}


def upgrade() -> None:
    from indexing.store.tables_api import audit_append_only_ddl

    bind = op.get_bind()
    tables = _tables()
    existing = set(sa.inspect(bind).get_table_names())
    for name, table in tables.items():
        if name not in existing:  # adopt tables a pre-release build created
            table.create(bind)
    attrs = context.config.attributes
    legacy = attrs.get("legacy_api_db")
    if legacy is not None:
        from indexing.store.legacy_api import move_rows

        attrs["moved"].update(move_rows(bind, Path(legacy), tables))
        attrs["legacy_consumed"] = True
    for stmt in audit_append_only_ddl(bind.dialect.name):
        op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    for name in ("audit_log", "jobs", "api_keys"):
        op.drop_table(name)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
