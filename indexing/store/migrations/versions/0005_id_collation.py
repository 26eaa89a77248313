"""Id columns sort byte-wise on PostgreSQL too (``COLLATE "C"``), as they do on SQLite.

A PostgreSQL server created with a locale (``en_US.UTF-8``, ``zh_CN.UTF-8``: the usual
managed-server default) orders text by that locale's rules: case and punctuation are
ignored at first, so ``D-b`` sorts before ``D_A`` there and after it on SQLite, and a
page of records (``ORDER BY id ... LIMIT/OFFSET``) differs between the backends. SQLite's
default collation (BINARY, memcmp on UTF-8) is code-point order; PostgreSQL's ``"C"``
collation is the same, on any server locale. The columns are declared with
:func:`indexing.store.database.byte_ordered`; SQLite needs no change.

Revision ID: 0005_id_collation
Revises: 0004_transfers
"""

from __future__ import annotations

from alembic import op

revision = "0005_id_collation"
down_revision = "0004_transfers"
branch_labels = None
depends_on = None

# table -> (column, SQL type): the ids that are sorted on and the keys that refer to them
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "patents": (("id", "text"),),
    "demands": (("id", "text"),),
    "labels": (("record_id", "text"),),
    "api_keys": (("key_id", "text"),),
    "jobs": (("job_id", "text"),),
    "transfer_events": (("id", "varchar(40)"), ("patent_id", "varchar(64)")),
    "push_subscriptions": (("id", "varchar(40)"),),
    "push_deliveries": (("subscription_id", "varchar(40)"),),
}


def _alter(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: BINARY already is byte order
    # push_deliveries.subscription_id refers to push_subscriptions.id: both change in this
    # one transaction (the foreign key is checked at commit, with equal collations)
    for table, cols in COLUMNS.items():
        changes = ", ".join(f'ALTER COLUMN {c} TYPE {t} COLLATE "{collation}"' for c, t in cols)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _alter("C")


def downgrade() -> None:
    _alter("default")
