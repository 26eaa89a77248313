"""Fixtures for the push loop: a push repository on each database backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.push.store import PushStore
from indexing.store.database import create_db_engine


def _backends() -> list[str]:
    out = ["sqlite"]
    if os.environ.get("PATMATCH_TEST_DATABASE_URL"):
        out.append("postgresql")
    return out


@pytest.fixture(params=_backends())
def push_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PushStore]:
    """A PushStore on a fresh SQLite file, and on PostgreSQL when the CI provides one."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'push.sqlite3'}")
        yield PushStore(engine)
        engine.dispose()
        return
    from indexing.store.database import metadata
    from indexing.store.tables_push import PUSH_TABLES

    url = os.environ["PATMATCH_TEST_DATABASE_URL"]
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_db_engine(url)
    metadata.drop_all(engine, tables=list(PUSH_TABLES))  # a fresh set for each test
    yield PushStore(engine)
    engine.dispose()
