"""The record tables: patents, demands and their label sets (owned by the record store).

One row per record: its id, a keyed content digest (change detection for idempotent
upserts), a digest of its matchable text (exact-duplicate detection across ids) and the
record as JSON text. Demand contact fields are never in the JSON: they sit in
``contact_enc`` as one Fernet token, so a database dump holds no clear personal data.
Times are ISO-8601 UTC strings (the same text on both backends, sortable).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Table, Text

from indexing.store.database import byte_ordered, metadata

ID = byte_ordered(Text())  # sorts byte-wise on both backends (migration 0005)

patents = Table(
    "patents", metadata,
    Column("id", ID, primary_key=True),
    Column("content_sha", Text, nullable=False),
    Column("text_sha", Text, nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

demands = Table(
    "demands", metadata,
    Column("id", ID, primary_key=True),
    Column("content_sha", Text, nullable=False),
    Column("text_sha", Text, nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("contact_enc", Text),
    Column("owner", Text),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    CheckConstraint("status IN ('active', 'deleted')", name="status"),
    Index("ix_demands_owner", "owner", "status"),
)

label_sets = Table(
    "label_sets", metadata,
    Column("side", Text, primary_key=True),
    Column("version", Text, nullable=False),
    Column("saved_at", Text, nullable=False),
    CheckConstraint("side IN ('patents', 'demands')", name="side"),
)

labels = Table(
    "labels", metadata,
    Column("side", Text, ForeignKey("label_sets.side", ondelete="CASCADE"), primary_key=True),
    Column("record_id", ID, primary_key=True),
    Column("data", Text, nullable=False),
)

RECORD_TABLES = (patents, demands, label_sets, labels)
