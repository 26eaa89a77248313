"""Alembic environment: runs on the connection handed in by indexing.store.schema.upgrade
(already inside a write transaction), or on ``sqlalchemy.url`` when Alembic's own command
line is pointed at this directory."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from indexing.store.database import create_db_engine, metadata
from indexing.store.schema import ADVISORY_LOCK_ID, load_table_modules

load_table_modules()
# ADVISORY_LOCK_ID: every patmatch process upgrading the same PostgreSQL database takes
# this lock, so only one runs the migrations and the others then find them applied.


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=True,  # SQLite ALTERs become table copies
                      transactional_ddl=True, compare_type=True)
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_db_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()
