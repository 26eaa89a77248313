"""The transfer-event table (``indexing/store/tables_transfers.py``).

Until this revision the table was made by ``metadata.create_all`` when the transfer
repository opened; a database that already has it is adopted as it is (same definition).

Revision ID: 0004_transfers
Revises: 0003_api
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_transfers"
down_revision = "0003_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "transfer_events" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "transfer_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("patent_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("event_group", sa.String(8), nullable=False),
        sa.Column("effective_date", sa.String(10), nullable=False),
        sa.Column("assignor", sa.Text, nullable=False),
        sa.Column("assignor_type", sa.String(16)),
        sa.Column("assignor_address", sa.Text),
        sa.Column("assignor_province", sa.String(32)),
        sa.Column("assignor_city", sa.String(32)),
        sa.Column("assignor_district", sa.String(32)),
        sa.Column("assignee", sa.Text, nullable=False),
        sa.Column("assignee_type", sa.String(16)),
        sa.Column("assignee_address", sa.Text),
        sa.Column("assignee_province", sa.String(32)),
        sa.Column("assignee_city", sa.String(32)),
        sa.Column("assignee_district", sa.String(32)),
        sa.Column("amount_wan", sa.Float),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(128)),
        sa.Column("patent_known", sa.Boolean, nullable=False),
        sa.Column("chains", sa.Text),
        sa.Column("holder_type", sa.String(16)),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transfer_events"),
    )
    op.create_index("ix_transfer_events_patent_id", "transfer_events", ["patent_id"])
    op.create_index("ix_transfer_events_effective_date", "transfer_events", ["effective_date"])
    op.create_index("ix_transfer_events_assignor_province_date", "transfer_events",
                    ["assignor_province", "effective_date"])


def downgrade() -> None:
    op.drop_table("transfer_events")
