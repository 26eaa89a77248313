"""A full disk says so (issue 13 finding 6), and leaves the store as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from indexing.records import DemandRecord
from indexing.store.record_store import open_store
from patmatch.errors import StorageFullError


def test_full_database_is_a_clear_error_and_nothing_is_kept(settings) -> None:  # noqa: ANN001
    store = open_store(settings)
    store.upsert_demands([DemandRecord(id="D0", text="锂电池")])
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    # a disk with 2 pages left, on every connection the store opens from now on
    @event.listens_for(store.engine, "connect")
    def _small_disk(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.execute(f"PRAGMA max_page_count={pages + 2}")

    store.engine.dispose()
    big = [DemandRecord(id=f"D{i}", text="电池" * 2_000) for i in range(1, 200)]
    with pytest.raises(StorageFullError) as e:
        store.upsert_demands(big)
    assert "磁盘已满" in e.value.message and "no transaction" not in e.value.message
    assert store.count_demands() == 1 and store.get_demand("D1") is None
    store.close()
