"""Shared fixtures: an isolated data home per test, the third-party data folder, and the
database fixtures (``db_url``/``db_settings``: every test using them runs once on SQLite
and once on a real PostgreSQL server, each in a fresh, empty database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg_cluster

from patmatch.settings import Settings, get_settings, shared_data_dir


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh PATMATCH_HOME for one test; settings cache cleared before and after."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("PATMATCH_HOME", str(h))
    get_settings.cache_clear()
    yield h
    get_settings.cache_clear()


@pytest.fixture()
def settings(home: Path) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or PATMATCH_SHARED_DATA); skip with a clear message when absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data not found (set PATMATCH_SHARED_DATA): real-data test skipped")
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for this session: ``PATMATCH_TEST_DATABASE_URL`` (CI sets it via
    .ci/postgres.sh), else a cluster started here. In CI a missing server fails the run."""
    try:
        with pg_cluster.server_url() as url:
            if url is None:
                msg = ("no PostgreSQL: set PATMATCH_TEST_DATABASE_URL or install the "
                       "postgresql package (.ci/system-packages.sh)")
                if os.environ.get("CI"):
                    pytest.fail(msg)
                pytest.skip(msg)
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def pg_admin(pg_server_url: str) -> Iterator[object]:
    from indexing.store.database import create_db_engine

    engine = create_db_engine(pg_server_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the PostgreSQL server
    (dropped afterwards). Tables come from the migrations (open_database/ensure_schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'patmatch.sqlite3'}"
        return
    from sqlalchemy import text

    admin = request.getfixturevalue("pg_admin")
    schema = pg_cluster.new_schema_name()
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield pg_cluster.with_schema(request.getfixturevalue("pg_server_url"), schema)
    with admin.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '20s'"))
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture()
def db_settings(home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of a fresh data home whose database is ``db_url`` (both backends)."""
    monkeypatch.setenv("PATMATCH_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return get_settings()
