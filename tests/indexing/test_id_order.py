"""Ids sort the same on SQLite and PostgreSQL: byte-wise (code-point order), whatever the
server's locale (migration 0005_id_collation: ``COLLATE "C"`` on PostgreSQL), so a page of
records (``ORDER BY id LIMIT/OFFSET``) is the same page on both backends."""

from __future__ import annotations

import importlib

import sqlalchemy as sa

from indexing.records import DemandRecord, PatentRecord
from indexing.store import schema
from indexing.store.record_store import open_store
from patmatch.settings import Settings

# a locale collation (en_US, zh_CN, ICU) orders these differently: case and punctuation
# are ignored at first there ("D-b" < "D_A" < "D-B"), byte order puts "D-B" < "D-b" < "D_A"
IDS = ["D-b", "D_A", "D-B", "d-a", "D-10", "D-9", "Z", "a", "D a", "D.1", "D-Ä", "中文-1"]
COLUMNS = importlib.import_module(
    "indexing.store.migrations.versions.0005_id_collation").COLUMNS


def test_pages_come_in_byte_order_on_both_backends(db_settings: Settings) -> None:
    want = sorted(IDS)  # Python compares code points: the order of UTF-8 bytes
    with open_store(db_settings) as store:
        store.upsert_demands(DemandRecord(id=i, text=f"需求{i}") for i in IDS)
        store.upsert_patents(PatentRecord(id=i, title=f"专利{i}", abstract="摘要。") for i in IDS)
        assert [d.id for d in store.iter_demands()] == want
        assert [p.id for p in store.iter_patents()] == want
        # one upsert: one created_at, so the page order is the id tie-break
        pages = [store.list_demands(limit=5, offset=o) for o in (0, 5, 10)]
        assert [d.id for page in pages for d in page] == want


def test_postgresql_id_columns_are_collated_c(db_settings: Settings) -> None:
    """What makes the order independent of the server's locale (the test cluster itself
    is created without a locale, so the order test alone cannot tell)."""
    with open_store(db_settings) as store:
        engine = store.engine
        if engine.dialect.name != "postgresql":
            return  # SQLite: BINARY is byte order; nothing to declare
        with engine.connect() as conn:
            got = {(t, c): coll for t, c, coll in conn.execute(sa.text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"))}
            assert {k: got[k] for t, cols in COLUMNS.items() for k in
                    ((t, c) for c, _ in cols)} == {(t, c): "C" for t, cols in COLUMNS.items()
                                                   for c, _ in cols}
            icu = conn.execute(sa.text(
                "SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).first()
            if icu is not None:  # and a locale order really differs on these ids
                values = ", ".join(f"('{i}')" for i in IDS)
                by_locale = conn.execute(sa.text(
                    f'SELECT v FROM (VALUES {values}) t(v) ORDER BY v COLLATE "und-x-icu"'
                )).scalars().all()
                assert by_locale != sorted(IDS)
        store.upsert_patents(PatentRecord(id=i, title=f"专利{i}", abstract="摘要。") for i in IDS)
        # down to 0004 and back up: the downgrade restores the default collation
        from alembic import command

        from indexing.store.database import write_transaction

        with write_transaction(engine) as conn:
            command.downgrade(schema.alembic_config(conn), "0004_transfers")
        with engine.connect() as conn:
            coll = conn.execute(sa.text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'patents' AND column_name = 'id'")).scalar()
            assert coll != "C"
        schema.upgrade(engine)
        assert [p.id for p in store.iter_patents()] == sorted(IDS)  # every row kept
