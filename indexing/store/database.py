"""The one database behind every table: SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Every table of patmatch is declared on :data:`metadata` (records, labels, transfer events,
API keys, audit log, jobs, subscriptions, deliveries, feedback), in the ``tables_*`` module
of the part that owns it; Alembic migrations (``indexing/store/migrations``) create and
upgrade them on both backends. ``PATMATCH_DATABASE_URL`` selects the backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import MetaData

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from patmatch.settings import Settings

# Stable constraint names, so migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


def database_url(settings: Settings) -> str:
    """The URL the operator chose, normalised to the drivers patmatch ships with."""
    url = settings.resolved_database_url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_db_engine(url: str) -> Engine:
    """An engine with the settings both backends need for several writers at once."""
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
