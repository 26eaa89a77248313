"""Record tables: patents, demands, label sets, labels.

A store written by a release before Alembic already has these tables (and a
``schema_version`` table at version 1): it is adopted in place, every row kept; only its
index names change to the naming convention.

Revision ID: 0001_records
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None

_TABLES = ("patents", "demands", "label_sets", "labels")  # parents before children


def _adopt_legacy(bind: sa.engine.Connection) -> None:
    """Rebuild each old table under the new definition and copy its rows over (SQLite
    cannot add constraint names or NOT NULL to a primary key in place)."""
    version = bind.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
    if version != 1:
        raise RuntimeError(f"store has pre-Alembic schema version {version}; only version 1 "
                           "(the last release before Alembic) can be adopted")
    for table in _TABLES:
        op.rename_table(table, f"legacy_{table}")
    for index in ("patents_text_sha", "demands_text_sha", "demands_owner"):
        op.drop_index(index)
    _create_tables()
    for table in _TABLES:
        cols = ", ".join(c["name"] for c in sa.inspect(bind).get_columns(table))
        op.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM legacy_{table}")
    for table in reversed(_TABLES):
        op.drop_table(f"legacy_{table}")
    op.drop_table("schema_version")


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if {"patents", "schema_version"} <= tables:
        _adopt_legacy(bind)
    else:
        _create_tables()


def _create_tables() -> None:
    op.create_table(
        "patents",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("content_sha", sa.Text, nullable=False),
        sa.Column("text_sha", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patents"),
    )
    op.create_index("ix_patents_text_sha", "patents", ["text_sha"])
    op.create_table(
        "demands",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("content_sha", sa.Text, nullable=False),
        sa.Column("text_sha", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("contact_enc", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_demands"),
        sa.CheckConstraint("status IN ('active', 'deleted')", name="ck_demands_status"),
    )
    op.create_index("ix_demands_text_sha", "demands", ["text_sha"])
    op.create_index("ix_demands_owner", "demands", ["owner", "status"])
    op.create_table(
        "label_sets",
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("saved_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("side", name="pk_label_sets"),
        sa.CheckConstraint("side IN ('patents', 'demands')", name="ck_label_sets_side"),
    )
    op.create_table(
        "labels",
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("side", "record_id", name="pk_labels"),
        sa.ForeignKeyConstraint(["side"], ["label_sets.side"], ondelete="CASCADE",
                                name="fk_labels_side_label_sets"),
    )


def downgrade() -> None:
    for table in ("labels", "label_sets", "demands", "patents"):
        op.drop_table(table)
