"""The API's tables (keys, audit log, batch jobs) on the one database.

They are declared in ``indexing/store/tables_api.py`` and created by migration 0003_api,
on SQLite or PostgreSQL as ``PATMATCH_DATABASE_URL`` says. Earlier releases kept them in a
second SQLite file, ``<home>/api.sqlite3``: opening the database moves its rows in once
(see ``indexing.store.schema``). Every write goes through
``indexing.store.database.write_transaction`` (BEGIN IMMEDIATE on SQLite), so several
worker processes, the nightly job and the CLI can write at once without "database is
locked" halfway through a read-then-write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from indexing.store.database import write_transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql import Executable

    from patmatch.settings import Settings


class ApiDB:
    """A handle on the engine the API's repositories (KeyStore, AuditLog, JobManager) share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes (commits on success, rolls back on an exception)."""
        with write_transaction(self.engine) as conn:
            yield conn

    def run(self, stmt: Executable, params: Any = None) -> int:
        """One write statement in its own transaction; the number of rows it touched."""
        with self.write() as conn:
            return conn.execute(stmt, params).rowcount

    def rows(self, stmt: Executable) -> list[Any]:
        """Rows of a read, as mappings (``row["column"]``)."""
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).mappings().all())

    def scalar(self, stmt: Executable) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def close(self) -> None:
        self.engine.dispose()


def open_api_db(settings: Settings) -> ApiDB:
    """The API's tables on ``settings``' database, its schema upgraded (an old
    ``api.sqlite3`` in the data home is moved in on the way)."""
    from indexing.store.schema import open_database

    return ApiDB(open_database(settings))


__all__ = ["ApiDB", "open_api_db"]
