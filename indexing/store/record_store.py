"""The record store: patents, demands and their label sets, in the one database.

Callers use :func:`open_store` and the :class:`Store` methods only. The backend is the one
``PATMATCH_DATABASE_URL`` names (``settings.resolved_database_url``): SQLite in the data
home by default, or a PostgreSQL server (``postgresql://user:password@host/db``); the same
:class:`SqlStore` serves both. Modules by role:

- ``record_contract`` — the interface (:class:`Store`, :class:`UpsertCounts`);
- ``record_codec`` — records <-> rows (JSON, digests, encrypted contacts);
- ``record_writes`` — batched upserts (COPY on PostgreSQL), label sets, full disks;
- ``record_sql`` — :class:`SqlStore`, the SQLAlchemy Core implementation;
- ``tables_records`` — the tables; schema changes are Alembic migrations (``schema``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from indexing.store.record_codec import patent_from_dict, patent_to_dict, text_digest
from indexing.store.record_contract import Store, UpsertCounts
from indexing.store.record_sql import SqlStore
from patmatch.errors import ConfigError

if TYPE_CHECKING:
    from patmatch.settings import Settings

# The name of the class before PostgreSQL: kept for callers and tests that use it.
SQLiteStore = SqlStore

SUPPORTED = ("sqlite:///PATH", "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):].split("?", 1)[0]).expanduser()
    return None


def open_store(settings: Settings | None = None) -> Store:
    """The record store on the configured database, its schema upgraded to this release.
    The caller owns it (``close()``, or use it as a context manager)."""
    from sqlalchemy.engine import make_url

    from indexing.privacy import PiiCipher, private_file
    from indexing.store.database import database_url
    from indexing.store.schema import open_database

    if settings is None:
        from patmatch.settings import get_settings

        settings = get_settings()
    url = database_url(settings)
    try:
        backend = make_url(url).get_backend_name()
    except Exception:  # noqa: BLE001 - any unparsable URL is the operator's to fix
        backend = ""
    if backend not in ("sqlite", "postgresql"):
        shown = url.split("@", 1)[-1] if "@" in url else url  # no password in messages
        raise ConfigError(
            f"unsupported database URL {shown!r}: PATMATCH_DATABASE_URL must be "
            f"{SUPPORTED[0]} or {SUPPORTED[1]}", details={"supported": list(SUPPORTED)})
    path = _sqlite_path(url)
    if path is not None and str(path) != ":memory:":
        private_file(path)  # records: 0600 (SQLite gives -wal/-shm the same mode)
    engine = open_database(settings)
    try:
        cipher = PiiCipher.from_settings(settings)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, cipher, where=str(path) if path is not None else None)


__all__ = ["SQLiteStore", "SqlStore", "Store", "UpsertCounts", "open_store",
           "patent_from_dict", "patent_to_dict", "text_digest"]
