"""Alembic environment: runs on the connection handed in by indexing.store.schema.upgrade
(already inside a write transaction), or on ``sqlalchemy.url`` when Alembic's own command
line is pointed at this directory."""

from __future__ import annotations

from alembic import context

from indexing.store.database import create_db_engine, lock_schema, metadata
from indexing.store.schema import load_table_modules

load_table_modules()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=True,  # SQLite ALTERs become table copies
                      transactional_ddl=True, compare_type=True)
    # every patmatch process upgrading the same PostgreSQL database takes this lock,
    # so only one runs the migrations and the others then find them applied
    lock_schema(connection)
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
