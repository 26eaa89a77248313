"""Alembic migrations on both backends: tables match the declared metadata, upgrades are
idempotent and serialised, a store written by the release before Alembic is upgraded in
place without losing a row, and the row-lock / conditional-update helpers hold under races."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from indexing.store import schema
from indexing.store.database import create_db_engine, lock_row, transition, write_transaction
from patmatch.errors import ConfigError
from tests.indexing.legacy_schema import make_old_store


@pytest.fixture()
def engine(db_url: str):
    e = create_db_engine(db_url)
    yield e
    e.dispose()


def _diff(engine: sa.Engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from indexing.store.database import metadata

    schema.load_table_modules()
    with engine.connect() as conn:
        migrated = set(sa.inspect(conn).get_table_names())

        def covered(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001, ARG001
            # tables still created by their area's create_all (no migration yet) are not
            # compared; every table a migration made must be declared, and equal
            table = obj if type_ == "table" else getattr(obj, "table", None)
            return table is None or table.name in migrated

        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "include_object": covered})
        return compare_metadata(ctx, metadata)


def test_one_head() -> None:
    assert len(schema.head_revisions()) == 1, "a new migration must revise the current head"


def test_upgrade_builds_the_declared_tables(engine: sa.Engine) -> None:
    r = schema.upgrade(engine)
    assert r.before == () and r.after == schema.head_revisions()
    assert _diff(engine) == []
    again = schema.upgrade(engine)  # idempotent
    assert again.before == again.after == schema.head_revisions()


def test_two_processes_upgrading_at_once(db_url: str) -> None:
    import subprocess
    import sys

    code = ("import sys; from indexing.store.database import create_db_engine; "
            "from indexing.store.schema import ensure_schema; "
            "ensure_schema(create_db_engine(sys.argv[1]))")
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], cwd=root,
                              env={**__import__("os").environ, "PYTHONPATH": str(root)},
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    engine = create_db_engine(db_url)
    assert schema.current_revisions(engine) == schema.head_revisions()
    assert _diff(engine) == []
    engine.dispose()


def test_garbage_sqlite_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "store.sqlite3"
    bad.write_bytes(b"this is not a sqlite file" * 100)
    engine = create_db_engine(f"sqlite:///{bad}")
    try:
        with pytest.raises(sa.exc.DatabaseError):
            schema.ensure_schema(engine)
    finally:
        engine.dispose()
    assert bad.read_bytes().startswith(b"this is not")


def test_database_ahead_of_the_code_is_refused(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(ConfigError, match="9999_future"):
        schema.ensure_schema(engine)


def test_old_sqlite_store_upgraded_in_place(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    make_old_store(store, patents=50, demands=4)
    engine = create_db_engine(f"sqlite:///{store}")
    try:
        r = schema.upgrade(engine)
        assert r.before == () and r.after == schema.head_revisions()
        assert _diff(engine) == []
        with engine.connect() as c:
            count = lambda t: c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()  # noqa: E731
            assert [count(t) for t in ("patents", "demands", "label_sets", "labels")] == [50, 4, 1, 1]
            assert c.execute(sa.text("SELECT status, contact_enc FROM demands WHERE id='D0'")
                             ).one() == ("deleted", "gAAAA-token")
            assert "schema_version" not in sa.inspect(c).get_table_names()
    finally:
        engine.dispose()


def test_old_store_with_unknown_version_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    make_old_store(store)
    import sqlite3

    with sqlite3.connect(store) as con:
        con.execute("INSERT INTO schema_version VALUES (2, 'x')")
    engine = create_db_engine(f"sqlite:///{store}")
    try:
        with pytest.raises(RuntimeError, match="version 2"):
            schema.upgrade(engine)
        with sqlite3.connect(store) as con:  # rolled back: still the old store
            assert con.execute("SELECT COUNT(*) FROM patents").fetchone()[0] == 3
    finally:
        engine.dispose()


_scratch = sa.MetaData()
jobs = sa.Table("scratch_jobs", _scratch, sa.Column("job_id", sa.Text, primary_key=True),
                sa.Column("key_id", sa.Text), sa.Column("status", sa.Text),
                sa.Column("params", sa.Text), sa.Column("rows", sa.Integer),
                sa.Column("created_at", sa.Text), sa.Column("updated_at", sa.Text))


def test_transition_has_one_winner(engine: sa.Engine) -> None:
    """The helper for atomic state changes: of N racing writers exactly one wins."""
    _scratch.create_all(engine)
    with engine.begin() as c:
        c.execute(jobs.insert(), {"job_id": "j", "status": "queued", "params": "{}",
                                  "created_at": "t", "updated_at": "t"})
    wins: list[int] = []
    barrier = threading.Barrier(4)

    def claim(i: int) -> None:
        barrier.wait()
        with write_transaction(engine) as conn:
            if transition(conn, jobs, {"job_id": "j"}, {"status": "queued"},
                          {"status": "running", "key_id": str(i)}):
                wins.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    with write_transaction(engine) as conn:
        row = lock_row(conn, jobs, {"job_id": "j"})
        assert row.status == "running" and row.key_id == str(wins[0])
        assert lock_row(conn, jobs, {"job_id": "nope"}) is None


def test_lock_row_serialises_read_modify_write(engine: sa.Engine) -> None:
    _scratch.create_all(engine)
    with engine.begin() as c:
        c.execute(jobs.insert(), {"job_id": "j", "status": "s", "params": "{}", "rows": 0,
                                  "created_at": "t", "updated_at": "t"})

    def bump() -> None:
        for _ in range(10):
            with write_transaction(engine) as conn:
                row = lock_row(conn, jobs, {"job_id": "j"})
                conn.execute(jobs.update().where(jobs.c.job_id == "j").values(rows=row.rows + 1))

    threads = [threading.Thread(target=bump) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as c:
        assert c.execute(sa.select(jobs.c.rows)).scalar() == 30  # no lost update


def test_cli_upgrade_and_current(db_settings, capsys) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["db", "current"])
    assert out.exit_code == 0 and "需要升级" in out.output
    out = runner.invoke(app, ["db", "upgrade"])
    assert out.exit_code == 0, out.output
    assert schema.head_revisions()[0] in out.output
    assert "patmatch:" not in out.output or "***" in out.output  # no password printed
    out = runner.invoke(app, ["db", "current"])
    assert out.exit_code == 0 and "需要升级" not in out.output
