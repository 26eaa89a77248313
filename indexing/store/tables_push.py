"""Tables of the push loop: subscriptions (订阅), deliveries, and outcome feedback (标注与追踪).

Owned by the subscriptions/push area (``api/push``); declared here, on the one
:data:`indexing.store.database.metadata`, so migrations and every layer see them.

- ``push_subscriptions``: who wants which matches, how often, through which channel.
- ``push_deliveries``: one row per (subscription, patent) pair ever selected for a digest.
  The unique constraint on that pair is what makes a pair delivered at most once, across
  rebuilds and rollbacks. Rows are never deleted; ``status`` moves queued -> sending ->
  sent | failed -> ... -> dead, and every attempt is appended to ``push_attempts``.
- ``push_feedback``: the current outcome of a (subject, patent) pair, where the subject is
  the demand id (or ``sub:<subscription id>`` for a free-text subscription); ``version``
  lets a conditional UPDATE change it atomically on both backends.
- ``push_feedback_events``: the full history (who, when, from which state to which), append
  only (triggers refuse UPDATE and DELETE on SQLite and PostgreSQL).

For the transfer statistics (``tables_transfers.py``): :func:`platform_deals` lists the deals
recorded through feedback in a period, one dict per (demand, patent) deal, so they can be
turned into transfer events of source ``platform``::

    platform_deals(engine, start=date(2026, 1, 1), end=date(2026, 12, 31))
    -> [{"demand_id", "subscription_id", "patent_id", "deal_type", "amount_wan",
         "deal_date", "recorded_at", "recorded_by", "owner_centre"}, ...]
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (DDL, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table,
                        Text, UniqueConstraint, event, select)

from indexing.store.database import byte_ordered, metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ISO = String(40)  # UTC ISO-8601 text with milliseconds: sorts lexicographically on both backends

subscriptions = Table(
    "push_subscriptions", metadata,
    Column("id", byte_ordered(String(40)), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("owner_key_id", String(64), nullable=False),
    Column("owner_role", String(20), nullable=False),
    Column("owner_centre", String(100), nullable=True, index=True),
    Column("owner_chains", Text, nullable=False, default="[]"),  # JSON list, the key's scope
    Column("demand_id", String(100), nullable=True, index=True),
    Column("text", Text, nullable=True),
    Column("filters", Text, nullable=False, default="{}"),  # JSON object
    Column("top_n", Integer, nullable=False),
    Column("min_score", Float, nullable=False, default=0.0),
    Column("schedule", String(20), nullable=False),  # publish | daily | weekly
    Column("channel_type", String(20), nullable=False),  # webhook | email | file
    Column("channel", Text, nullable=False, default="{}"),  # JSON: url / to
    Column("secret", String(128), nullable=True),  # webhook HMAC key
    Column("status", String(20), nullable=False),  # active | paused | deleted
    Column("created_at", ISO, nullable=False),
    Column("updated_at", ISO, nullable=False),
    Column("last_run_at", ISO, nullable=True),
    Column("last_build", String(100), nullable=True),
)

deliveries = Table(
    "push_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", byte_ordered(String(40)), ForeignKey("push_subscriptions.id"),
           nullable=False),
    Column("owner_centre", String(100), nullable=True),
    Column("demand_id", String(100), nullable=True),
    Column("patent_id", String(100), nullable=False),
    Column("bundle", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),  # the explanation that was sent
    Column("matched_terms", Text, nullable=False, default="[]"),
    Column("chains", Text, nullable=False, default="[]"),
    Column("status", String(10), nullable=False),  # queued | sending | sent | failed | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", ISO, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", ISO, nullable=False),
    Column("updated_at", ISO, nullable=False),
    Column("sent_at", ISO, nullable=True),
    UniqueConstraint("subscription_id", "patent_id", name="uq_push_deliveries_pair"),
)
Index("ix_push_deliveries_status_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_push_deliveries_sent_at", deliveries.c.sent_at)

attempts = Table(
    "push_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("push_deliveries.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status_after", String(10), nullable=False),
    Column("error", Text, nullable=True),
    Column("ts", ISO, nullable=False),
)

feedback = Table(
    "push_feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(160), nullable=False),
    Column("patent_id", String(100), nullable=False),
    Column("demand_id", String(100), nullable=True, index=True),
    Column("subscription_id", String(40), nullable=True),
    Column("owner_centre", String(100), nullable=True),
    Column("state", String(20), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("note", Text, nullable=True),
    Column("deal_type", String(20), nullable=True),
    Column("amount_wan", Float, nullable=True),
    Column("deal_date", String(10), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", ISO, nullable=False),
    Column("updated_at", ISO, nullable=False),
    Column("updated_by", String(200), nullable=True),
    UniqueConstraint("subject", "patent_id", name="uq_push_feedback_pair"),
)

feedback_events = Table(
    "push_feedback_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feedback_id", Integer, ForeignKey("push_feedback.id"), nullable=False, index=True),
    Column("subject", String(160), nullable=False),
    Column("patent_id", String(100), nullable=False),
    Column("demand_id", String(100), nullable=True),
    Column("subscription_id", String(40), nullable=True),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("note", Text, nullable=True),
    Column("deal_type", String(20), nullable=True),
    Column("amount_wan", Float, nullable=True),
    Column("deal_date", String(10), nullable=True),
    Column("reopen", Boolean, nullable=False, default=False),
    Column("actor", String(200), nullable=True),
    Column("actor_role", String(20), nullable=True),
    Column("actor_centre", String(100), nullable=True),
    Column("source", String(20), nullable=False),  # api | token | import | cli
    Column("ts", ISO, nullable=False),
)

PUSH_TABLES = (subscriptions, deliveries, attempts, feedback, feedback_events)
APPEND_ONLY = ("push_attempts", "push_feedback_events")


def append_only_ddl(dialect: str) -> list[str]:
    """Statements that make the history tables refuse UPDATE and DELETE (used by
    ``create_all`` here and by the migration)."""
    out: list[str] = []
    for t in APPEND_ONLY:
        if dialect == "sqlite":
            for op in ("UPDATE", "DELETE"):
                out.append(f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END")
        elif dialect == "postgresql":
            out.append("CREATE OR REPLACE FUNCTION patmatch_append_only() RETURNS trigger AS $$ "
                       "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ "
                       "LANGUAGE plpgsql")
            out.append(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            out.append(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION patmatch_append_only()")
    return out


for _table in (attempts, feedback_events):
    for _dialect in ("sqlite", "postgresql"):
        for _stmt in append_only_ddl(_dialect):
            if _stmt.startswith("CREATE OR REPLACE FUNCTION") or _stmt.endswith(
                    f" ON {_table.name}") or f" ON {_table.name} " in _stmt:
                # DDL() %-formats its text: the PL/pgSQL '%' placeholder is escaped
                event.listen(_table, "after_create",
                             DDL(_stmt.replace("%", "%%")).execute_if(dialect=_dialect))


def create_push_tables(engine: Engine) -> None:
    """Create the push tables when missing: what migration 0002_push runs, and what
    ``PushStore`` does for a database nobody upgraded (tests, a bare SQLite file)."""
    metadata.create_all(engine, tables=list(PUSH_TABLES))


def platform_deals(engine: Engine, *, start: _dt.date | None = None,
                   end: _dt.date | None = None) -> list[dict[str, Any]]:
    """Deals recorded through feedback whose deal date lies in [start, end] (inclusive;
    open ends allowed), oldest first. Only pairs whose current state is ``deal`` count: a
    reopened deal that moved on is no longer one."""
    f = feedback
    q = select(f.c.demand_id, f.c.subscription_id, f.c.patent_id, f.c.deal_type,
               f.c.amount_wan, f.c.deal_date, f.c.updated_at, f.c.updated_by,
               f.c.owner_centre).where(f.c.state == "deal")
    if start is not None:
        q = q.where(f.c.deal_date >= start.isoformat())
    if end is not None:
        q = q.where(f.c.deal_date <= end.isoformat())
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(f.c.deal_date, f.c.id)).mappings().all()
    return [{"demand_id": r["demand_id"], "subscription_id": r["subscription_id"],
             "patent_id": r["patent_id"], "deal_type": r["deal_type"],
             "amount_wan": r["amount_wan"], "deal_date": r["deal_date"],
             "recorded_at": r["updated_at"], "recorded_by": r["updated_by"],
             "owner_centre": r["owner_centre"]} for r in rows]


__all__ = ["APPEND_ONLY", "PUSH_TABLES", "append_only_ddl", "attempts", "create_push_tables",
           "deliveries", "feedback", "feedback_events", "platform_deals", "subscriptions"]
