"""Schema revisions of the one database: Alembic, driven from code (no alembic.ini).

``upgrade`` brings a database to the newest revision in one transaction (PostgreSQL:
under an advisory lock; SQLite: under its write lock), so two processes starting at once
upgrade it once. ``ensure_schema`` is what opening the database calls: a no-op when the
revision is current. A store made by a release before Alembic (tables plus a
``schema_version`` table) is adopted in place by revision 0001. ``legacy_api_db`` is the
hook for the revision that moves the API's old second file (``<home>/api.sqlite3``) in:
a migration reads it from ``context.config.attributes``, counts rows in ``["moved"]``
and sets ``["legacy_consumed"]``; the file is renamed to ``api.sqlite3.moved`` after the
commit (revision 0003_api does this).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from patmatch.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

    from patmatch.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LEGACY_API_DB = "api.sqlite3"
# Alembic keeps its running context in module globals: one upgrade per process at a time
# (other processes are kept out by the database's own lock, see migrations/env.py).
_UPGRADE_LOCK = threading.Lock()


def load_table_modules() -> None:
    """Import every ``indexing.store.tables_*`` module, so :data:`metadata` knows all tables."""
    import indexing.store as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("tables_"):
            importlib.import_module(f"indexing.store.{mod.name}")


def alembic_config(connection: Connection | None = None, *,
                   legacy_api_db: Path | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["legacy_api_db"] = legacy_api_db
    cfg.attributes["moved"] = {}
    return cfg


@cache
def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) of the code; more than one means two migrations branch."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revision(s) the database is at; () for an empty (or pre-Alembic) database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


@dataclass(frozen=True)
class UpgradeResult:
    before: tuple[str, ...]
    after: tuple[str, ...]
    moved_rows: dict[str, int]  # table -> rows moved from a legacy api.sqlite3


def upgrade(engine: Engine, *, revision: str = "head",
            legacy_api_db: Path | None = None) -> UpgradeResult:
    """Upgrade to ``revision`` in one transaction (see the module note on ``legacy_api_db``)."""
    from alembic import command

    from indexing.store.database import write_transaction

    heads = head_revisions()
    if len(heads) != 1:
        raise ConfigError(f"the migrations have {len(heads)} heads {heads}; a new migration's "
                          "down_revision must be the current head")
    before = current_revisions(engine)
    legacy = legacy_api_db if legacy_api_db is not None and legacy_api_db.is_file() else None
    with _UPGRADE_LOCK, write_transaction(engine) as conn:
        cfg = alembic_config(conn, legacy_api_db=legacy)
        command.upgrade(cfg, revision)
        moved = dict(cfg.attributes["moved"])
    if legacy is not None and cfg.attributes.get("legacy_consumed"):
        from indexing.store.legacy_api import retire

        retire(legacy)
    return UpgradeResult(before, current_revisions(engine), moved)


def legacy_api_path(engine: Engine, settings: Settings | None) -> Path | None:
    """Where an old ``api.sqlite3`` would be: in the data home; without settings, beside a
    SQLite database file (the default layout). None when that is the database itself."""
    db_file = engine.url.database if engine.dialect.name == "sqlite" else None
    if settings is not None:
        legacy = Path(settings.home) / LEGACY_API_DB
    elif db_file and db_file != ":memory:":
        legacy = Path(db_file).expanduser().resolve().parent / LEGACY_API_DB
    else:
        return None
    if db_file and Path(db_file).expanduser().resolve() == legacy.resolve():
        return None  # the operator pointed the database at the old file itself
    return legacy


def ensure_schema(engine: Engine, settings: Settings | None = None) -> None:
    """Upgrade the database when it is behind the code; refuse one that is ahead. An old
    ``api.sqlite3`` (see :func:`legacy_api_path`) is moved in on the way, or, when the
    database is already current, by :func:`indexing.store.legacy_api.adopt`."""
    heads = head_revisions()
    current = current_revisions(engine)
    legacy = legacy_api_path(engine, settings)
    if current == heads:
        if legacy is not None and legacy.is_file():
            from indexing.store.legacy_api import adopt

            adopt(engine, legacy)
        return
    if current and not set(current) <= _known_revisions():
        raise ConfigError(
            f"the database is at revision {', '.join(current)}, unknown to this patmatch "
            f"(newest known: {', '.join(heads)}); upgrade patmatch",
            details={"current": list(current), "heads": list(heads)})
    upgrade(engine, legacy_api_db=legacy)


@cache
def _known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def open_database(settings: Settings) -> Engine:
    """A new engine for ``settings``' database, its schema at the newest revision
    (upgraded in place when behind, see :func:`ensure_schema`).
    The caller owns it: ``engine.dispose()`` when done."""
    from indexing.store.database import create_db_engine, database_url

    engine = create_db_engine(database_url(settings))
    try:
        ensure_schema(engine, settings)
    except BaseException:
        engine.dispose()
        raise
    return engine
