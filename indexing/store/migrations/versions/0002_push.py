"""Push loop tables: subscriptions, deliveries (one per pair), attempts and feedback history
(append-only on both backends).

Databases that already hold these tables (PushStore created them before this revision
existed) are adopted as they are: creation checks first.

Revision ID: 0002_push
Revises: 0001_records
"""

from __future__ import annotations

from alembic import op

revision = "0002_push"
down_revision = "0001_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from indexing.store.tables_push import create_push_tables

    # the table objects of tables_push.py as of this revision; the append-only triggers
    # come with them (DDL events per dialect). A later change gets its own revision.
    create_push_tables(op.get_bind())


def downgrade() -> None:
    from indexing.store.tables_push import PUSH_TABLES

    for table in reversed(PUSH_TABLES):
        table.drop(op.get_bind(), checkfirst=True)
