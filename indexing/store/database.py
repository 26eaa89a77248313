"""The one database behind every table: SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Every table of patmatch is declared on :data:`metadata` (records, labels, transfer events,
API keys, audit log, jobs, subscriptions, deliveries, feedback), in the ``tables_*`` module
of the part that owns it; Alembic migrations (``indexing/store/migrations``, driven by
:mod:`indexing.store.schema`) create and upgrade them on both backends.
``PATMATCH_DATABASE_URL`` selects the backend.

The interface other modules use (documented in docs/architecture.md, "Store"):

- :func:`indexing.store.schema.open_database` — an engine for a settings object, its schema upgraded;
- :func:`write_transaction` — a transaction that writes: on SQLite it takes the write lock
  up front (``BEGIN IMMEDIATE``), so two writers queue instead of failing halfway with
  "database is locked"; on PostgreSQL an ordinary transaction;
- :func:`lock_row` / :func:`transition` — a state change that must be atomic: read a row
  under a row lock, or change it only if it is still in the expected state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, String

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine, Row

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
# An arbitrary constant: every patmatch process upgrading the same PostgreSQL database
# takes this transaction lock (:func:`lock_schema`), so one does the work.
ADVISORY_LOCK_ID = 0x7061746D  # "patm"


def byte_ordered(type_: String) -> String:
    """A string column type that sorts byte-wise on both backends: ``COLLATE "C"`` on
    PostgreSQL (whatever the server's locale), SQLite's default BINARY as it is. Ids use it,
    so a page of records (``ORDER BY id``) is the same on both (migration 0005)."""
    pg = type_.copy()
    pg.collation = "C"
    return type_.with_variant(pg, "postgresql")


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
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            from pathlib import Path

            Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: pysqlite's own implicit BEGIN (only before DML, committing
        # before DDL) is switched off, and we emit BEGIN ourselves, so a transaction is
        # exactly what SQLAlchemy says it is (SQLAlchemy's documented pysqlite recipe).
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False,
                                                  "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # noqa: ANN001
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write. Commits on success, rolls back on any exception.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's one write lock at the start, so a
    read-then-write inside cannot fail with "database is locked" when another writer
    committed in between (the busy timeout makes writers queue instead).
    """
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def lock_schema(conn: Connection) -> None:
    """Hold the schema lock until the transaction ends: PostgreSQL ``pg_advisory_xact_lock``
    (the migrations and the move of the old API file take it, so one process does the
    work and the others then find it done); on SQLite the write lock of
    :func:`write_transaction` already does this."""
    if not is_sqlite(conn):
        from sqlalchemy import text

        conn.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))


def lock_row(conn: Connection, table: Table, key: Mapping[str, Any]) -> Row | None:
    """Read one row by its key and hold it until the transaction ends (``SELECT ... FOR
    UPDATE`` on PostgreSQL; on SQLite the write lock of :func:`write_transaction` already
    excludes other writers). Use inside :func:`write_transaction`; None when absent."""
    from sqlalchemy import and_, select

    stmt = select(table).where(and_(*(table.c[k] == v for k, v in key.items())))
    if not is_sqlite(conn):
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def transition(conn: Connection, table: Table, key: Mapping[str, Any],
               expected: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Change a row only if it is still in the expected state (a conditional UPDATE):
    ``UPDATE table SET values WHERE key AND expected``. True when this caller made the
    change; False when the row is absent or someone else changed it first — the loser of
    a race sees False and must not act as if it had won. Atomic on both backends."""
    from sqlalchemy import and_, update

    conds = [table.c[k] == v for k, v in {**key, **expected}.items()]
    return conn.execute(update(table).where(and_(*conds)).values(**values)).rowcount == 1
