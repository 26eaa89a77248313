"""Migrations 0003_api and 0004_transfers on both backends: the API's tables (keys, audit
log, jobs) and the transfer events in the one database; an old ``api.sqlite3`` is moved in
once, every row kept (also rows still only in its write-ahead log), never lost on failure;
the audit log refuses UPDATE/DELETE (and TRUNCATE on PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from indexing.store import schema
from indexing.store.database import create_db_engine
from indexing.store.tables_api import api_keys, audit_log, jobs
from patmatch.errors import ConfigError
from tests.indexing.legacy_schema import make_old_api_db, make_old_store
from tests.indexing.test_migrations import _diff

MOVED = {"api_keys": 2, "audit_log": 2, "jobs": 1}


@pytest.fixture()
def engine(db_url: str):
    e = create_db_engine(db_url)
    yield e
    e.dispose()


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _audit(conn: sa.Connection) -> None:
    conn.execute(audit_log.insert(), {"ts": "t", "method": "GET", "path": "/", "action": "a",
                                      "status": 200})


def test_audit_log_is_append_only(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as c:
        _audit(c)
    for stmt in (audit_log.update().values(status=500), audit_log.delete(),
                 sa.text("DELETE FROM audit_log"), sa.text("UPDATE audit_log SET role='x'")):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(stmt)
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(sa.text("TRUNCATE audit_log"))
    with engine.connect() as c:
        assert c.execute(sa.select(audit_log.c.status)).scalars().all() == [200]


def test_old_api_file_moves_into_the_configured_database(engine: sa.Engine,
                                                         tmp_path: Path) -> None:
    api = tmp_path / "api.sqlite3"
    make_old_api_db(api)
    r = schema.upgrade(engine, legacy_api_db=api)
    assert r.moved_rows == MOVED
    assert _diff(engine) == []
    with engine.begin() as c:  # the audit sequence continues after the moved rows
        _audit(c)
        assert c.execute(sa.select(audit_log.c.seq).order_by(audit_log.c.seq)
                         ).scalars().all() == [1, 2, 3]
        assert c.execute(sa.select(jobs.c.rows)).scalar() == 7
        assert c.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.key_id == "0ld0ld02")
                         ).scalar() is not None
    assert not api.exists() and (tmp_path / "api.sqlite3.moved").is_file()
    # upgrading again moves nothing twice, even when an old file shows up again
    make_old_api_db(api)
    again = schema.upgrade(engine, legacy_api_db=api)
    assert again.moved_rows == {} and api.exists()
    assert _count(engine, audit_log) == 3 and _count(engine, api_keys) == 2


def test_rows_only_in_the_write_ahead_log_are_moved(engine: sa.Engine, tmp_path: Path) -> None:
    api = tmp_path / "api.sqlite3"
    make_old_api_db(api, audit_rows=2, wal_tail=3)
    assert (tmp_path / "api.sqlite3-wal").stat().st_size > 0
    r = schema.upgrade(engine, legacy_api_db=api)
    assert r.moved_rows["audit_log"] == 5
    moved = tmp_path / "api.sqlite3.moved"
    assert (tmp_path / "api.sqlite3.moved-wal").exists()  # the backup keeps its tail too
    with sqlite3.connect(moved) as con:
        assert con.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 5


def test_unreadable_old_file_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    bad = tmp_path / "api.sqlite3"
    bad.write_bytes(b"this is not a sqlite file" * 100)
    with pytest.raises(ConfigError, match="api.sqlite3"):
        schema.upgrade(engine, legacy_api_db=bad)
    assert schema.current_revisions(engine) == ()  # the whole upgrade rolled back
    assert bad.read_bytes().startswith(b"this is not")  # and the file is left alone
    bad.unlink()
    schema.upgrade(engine)
    assert _diff(engine) == []


def test_store_built_by_the_previous_release(db_url: str, tmp_path: Path) -> None:
    """What main at 9cd59b9 left: the database at 0002_push, transfer events made by
    create_all (no migration), keys/audit/jobs in api.sqlite3 beside it."""
    from indexing.store.tables_transfers import TransferEvent, TransferRepository

    engine = create_db_engine(db_url)
    try:
        schema.upgrade(engine, revision="0002_push")
        repo = TransferRepository(engine)
        repo.create()
        repo.upsert([TransferEvent(id=f"te-{i}", patent_id=f"CN{i}", event_type="转让",
                                   event_group="转让", effective_date="2026-01-02",
                                   assignor="甲", assignee="乙", source="cnipa")
                     for i in range(3)])
        api = tmp_path / "api.sqlite3"
        make_old_api_db(api, audit_rows=4)
        r = schema.upgrade(engine, legacy_api_db=api)
        assert r.before == ("0002_push",) and r.after == schema.head_revisions()
        assert r.moved_rows == MOVED | {"audit_log": 4}
        assert _diff(engine) == []
        assert repo.count() == 3
    finally:
        engine.dispose()


def test_pre_alembic_data_home_upgraded_in_place(tmp_path: Path) -> None:
    store, api = tmp_path / "store.sqlite3", tmp_path / "api.sqlite3"
    make_old_store(store, patents=50, demands=4)
    make_old_api_db(api)
    engine = create_db_engine(f"sqlite:///{store}")
    try:
        r = schema.upgrade(engine, legacy_api_db=api)
        assert r.before == () and r.moved_rows == MOVED
        assert _diff(engine) == []
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT COUNT(*) FROM patents")).scalar() == 50
    finally:
        engine.dispose()
    assert not api.exists()


def test_open_database_adopts_the_file_in_the_data_home(db_settings) -> None:  # noqa: ANN001
    from api.db import open_api_db
    from api.security import KeyStore
    from tests.indexing.legacy_schema import OLD_KEY

    make_old_api_db(db_settings.home / "api.sqlite3")
    db = open_api_db(db_settings)
    try:
        p = KeyStore(db).verify(OLD_KEY)  # a key issued by the old release still works
        assert (p.key_id, p.role, p.centre, p.chains) == ("0ld0ld01", "centre", "cz-nev",
                                                          ("nev",))
    finally:
        db.close()
    assert not (db_settings.home / "api.sqlite3").exists()
    assert (db_settings.home / "api.sqlite3.moved").exists()


def test_cli_upgrade_reports_the_moved_rows(db_settings) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from api.cli import app

    make_old_api_db(db_settings.home / "api.sqlite3")
    runner = CliRunner()
    out = runner.invoke(app, ["db", "upgrade"])
    assert out.exit_code == 0, out.output
    assert "迁入 audit_log：2 行" in out.output and schema.head_revisions()[0] in out.output
    out = runner.invoke(app, ["db", "current"])
    assert out.exit_code == 0 and "需要升级" not in out.output


def test_old_file_beside_a_sqlite_store_moves_without_settings(tmp_path: Path) -> None:
    """A nightly run (the record store opens the database without the data home's
    settings) upgrading first still moves the API file beside store.sqlite3."""
    api = tmp_path / "api.sqlite3"
    make_old_api_db(api)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        schema.ensure_schema(engine)
        assert _count(engine, audit_log) == 2 and _count(engine, api_keys) == 2
    finally:
        engine.dispose()
    assert not api.exists()


def test_current_database_with_empty_api_tables_adopts_the_file(db_settings,  # noqa: ANN001
                                                                 caplog) -> None:  # noqa: ANN001
    from indexing.store.database import database_url
    from indexing.store.tables_api import api_keys

    engine = create_db_engine(database_url(db_settings))
    try:
        schema.ensure_schema(engine)  # upgraded by a process that knew no data home
        api = db_settings.home / "api.sqlite3"
        make_old_api_db(api, audit_rows=3)
        schema.ensure_schema(engine, db_settings)  # what open_database does next
        assert _count(engine, audit_log) == 3 and not api.exists()
        with engine.begin() as c:
            _audit(c)
            assert c.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar() == 4
        # tables already in use are never merged into: the file stays, with a warning
        make_old_api_db(api)
        with engine.begin() as c:
            c.execute(api_keys.delete())
        schema.ensure_schema(engine, db_settings)
        assert api.exists() and _count(engine, audit_log) == 4
        assert "未迁入" in caplog.text
    finally:
        engine.dispose()
