"""The record store on both backends (``db_settings``: SQLite and PostgreSQL): schema,
round trips, encryption at rest, labels, threads, processes; SQLite specifics (WAL, 0600)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from indexing.records import DemandRecord, PatentRecord
from indexing.store.record_store import SqlStore, Store, open_store
from indexing.store.schema import head_revisions
from patmatch.errors import ConfigError, NotFoundError
from patmatch.settings import Settings


def _patent(i: int, **kw) -> PatentRecord:  # noqa: ANN003
    base = dict(id=f"CN{i:09d}A", title=f"一种电池{i}", abstract=f"本发明公开了一种电池{i}。",
                ipc=("H01M10/0525",), inventors=("李一", "王二"), applicant="常州大学",
                applicant_type="university", open_license=bool(i % 2))
    return PatentRecord(**(base | kw))


def _demand(i: int, **kw) -> DemandRecord:  # noqa: ANN003
    base = dict(id=f"D{i:05d}", text=f"冬天电池掉电快{i}", title="电池需求", contact_name="张三",
                contact_phone="13812345678", contact_email="zhang@example.com", required_trl=5)
    return DemandRecord(**(base | kw))


@pytest.fixture()
def store(db_settings: Settings):  # noqa: ANN201
    s = open_store(db_settings)
    yield s
    s.close()


@pytest.fixture()
def sqlite_store(settings: Settings):  # noqa: ANN201
    s = open_store(settings)
    yield s
    s.close()


def test_schema_at_head(store: SqlStore, db_url: str) -> None:
    assert isinstance(store, SqlStore) and (store.schema_version(),) == head_revisions()
    assert store.backend == db_url.split(":", 1)[0].split("+")[0]


def test_sqlite_wal_foreign_keys_private_file(sqlite_store: SqlStore, settings: Settings) -> None:
    raw = sqlite3.connect(settings.store_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert settings.store_path.stat().st_mode & 0o777 == 0o600


def test_patent_roundtrip_and_upsert_counts(store: Store) -> None:
    recs = [_patent(i) for i in range(3)]
    assert store.upsert_patents(recs).inserted == 3
    assert store.get_patent(recs[1].id) == recs[1]
    again = store.upsert_patents(recs)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    changed = dataclasses.replace(recs[0], title="一种新电池")
    c = store.upsert_patents([changed, recs[1]])
    assert (c.updated, c.unchanged, c.updated_ids) == (1, 1, (changed.id,))
    assert store.get_patent(changed.id).title == "一种新电池"
    assert store.get_patent("nope") is None
    assert store.counts()["patents"] == 3


def test_contacts_encrypted_at_rest_and_decrypted_on_read(store: SqlStore) -> None:
    from sqlalchemy import select

    from indexing.store.tables_records import demands

    d = _demand(1)
    store.upsert_demands([d])
    assert store.get_demand(d.id) == d
    with store.engine.connect() as conn:  # what a database dump would hold
        raw = "|".join(str(v) for row in conn.execute(select(demands)) for v in row)
    for secret in ("13812345678", "zhang@example.com", "张三"):
        assert secret not in raw
    assert "冬天电池掉电快1" in raw  # non-personal text is stored in clear


def test_sqlite_file_holds_no_clear_contacts(sqlite_store: Store, settings: Settings) -> None:
    store = sqlite_store
    d = _demand(1)
    store.upsert_demands([d])
    raw = settings.store_path.read_bytes() + (settings.store_path.with_name(
        settings.store_path.name + "-wal").read_bytes() if settings.store_path.with_name(
        settings.store_path.name + "-wal").exists() else b"")
    for secret in ("13812345678", "zhang@example.com", "张三"):
        assert secret.encode() not in raw
    assert "冬天电池掉电快1".encode() in raw  # non-personal text is stored in clear


def test_contact_change_is_an_update(store: Store) -> None:
    store.upsert_demands([_demand(1)])
    c = store.upsert_demands([_demand(1, contact_phone="13900000000")])
    assert c.updated == 1 and store.get_demand("D00001").contact_phone == "13900000000"


def test_iteration_pages_through_everything(store: Store) -> None:
    store.upsert_patents(_patent(i) for i in range(2345))  # generators are fine
    ids = [p.id for p in store.iter_patents()]
    assert len(ids) == 2345 and ids == sorted(ids) and len(set(ids)) == 2345


def test_demand_lifecycle_list_update_delete(store: Store) -> None:
    store.upsert_demands([_demand(i, owner="centre-a" if i < 3 else "centre-b") for i in range(5)])
    assert store.count_demands() == 5 and store.count_demands("centre-a") == 3
    page = store.list_demands(owner="centre-a", limit=2, offset=0)
    assert len(page) == 2 and all(d.owner == "centre-a" for d in page)
    assert len(store.list_demands(owner="centre-a", limit=2, offset=2)) == 1
    upd = dataclasses.replace(store.get_demand("D00001"), text="新的描述")
    store.update_demand(upd)
    assert store.get_demand("D00001").text == "新的描述"
    with pytest.raises(NotFoundError):
        store.update_demand(_demand(99))
    assert store.delete_demand("D00001") and not store.delete_demand("D00001")
    assert not store.delete_demand("missing")
    assert store.get_demand("D00001").status == "deleted"
    assert [d.id for d in store.iter_demands()] == ["D00000", "D00002", "D00003", "D00004"]
    assert len(list(store.iter_demands(include_deleted=True))) == 5
    assert store.counts()["demands"] == 4 and store.counts()["demands_deleted"] == 1
    # re-ingesting the unchanged row does not resurrect the deleted demand
    store.upsert_demands([_demand(1, owner="centre-a", text="新的描述")])
    assert store.get_demand("D00001").status == "deleted"


def test_labels_replace_whole_side(store: Store) -> None:
    store.save_labels("patents", {"a": {"chains": ["pv"]}, "b": {"chains": []}}, "v1")
    assert store.load_labels("patents") == {"a": {"chains": ["pv"]}, "b": {"chains": []}}
    assert store.labels_version("patents") == "v1" and store.load_labels("demands") == {}
    store.save_labels("patents", {"c": {"grade": "A"}}, "v2")
    assert store.load_labels("patents") == {"c": {"grade": "A"}} and store.labels_version("patents") == "v2"
    assert store.counts()["patent_labels"] == 1
    with pytest.raises(ConfigError):
        store.save_labels("papers", {}, "v1")


def test_text_duplicate_lookup(store: Store) -> None:
    from indexing.store.record_store import text_digest

    p = _patent(1)
    store.upsert_patents([p])
    other = dataclasses.replace(p, id="CN999")
    assert store.find_text_duplicates("patents", {other.id: text_digest(other.text)}) == {"CN999": p.id}
    assert store.find_text_duplicates("patents", {p.id: text_digest(p.text)}) == {}


def test_newer_schema_is_refused(db_settings: Settings) -> None:
    from sqlalchemy import text

    from indexing.store.database import write_transaction

    s = open_store(db_settings)
    with write_transaction(s.engine) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    s.close()
    with pytest.raises(ConfigError, match="upgrade patmatch"):
        open_store(db_settings)


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "oracle://x", "not a url", "redis://h"])
def test_unsupported_url_is_a_clear_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="postgresql://") as e:
        open_store(Settings(home=tmp_path, database_url=url))
    assert "secret" not in e.value.message


def test_postgresql_url_is_accepted_as_is(tmp_path: Path) -> None:
    from indexing.store.database import database_url

    s = Settings(home=tmp_path, database_url="postgresql://u:p@127.0.0.1:1/db")
    assert database_url(s).startswith("postgresql+psycopg://")


def test_threads_and_second_connection(store: Store, db_settings: Settings) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            store.upsert_patents([_patent(k * 100 + i) for i in range(50)])
            list(store.iter_patents())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and store.counts()["patents"] == 300
    other = open_store(db_settings)  # another connection (as another process would) sees it
    other.upsert_patents([_patent(9999)])
    assert other.counts()["patents"] == 301 and store.get_patent(_patent(9999).id) is not None
    other.close()


def test_interrupt_mid_upsert_rolls_back(store: Store) -> None:
    store.upsert_patents([_patent(1)])

    def records():  # noqa: ANN202
        yield _patent(1, title="changed")
        yield _patent(2)
        raise KeyboardInterrupt  # Ctrl-C while the transaction is open

    with pytest.raises(KeyboardInterrupt):
        store.upsert_patents(records())
    assert store.get_patent(_patent(1).id).title == _patent(1).title
    assert store.get_patent(_patent(2).id) is None and store.counts()["patents"] == 1
    assert store.upsert_patents([_patent(3)]).inserted == 1  # the connection is still usable


def test_two_processes_write_concurrently(db_settings: Settings, db_url: str) -> None:
    import os
    import subprocess
    import sys

    settings = db_settings
    open_store(settings).close()  # schema and key exist before the race
    script = ("import sys\nfrom indexing.records import PatentRecord\nfrom indexing.store.record_store import open_store\n"
              "s = open_store()\nk = int(sys.argv[1])\n"
              "for b in range(5):\n"
              "    s.upsert_patents(PatentRecord(id=f'P{k}-{b}-{i}', title='t', abstract=f'a{k}{b}{i}')"
              " for i in range(40))\n")
    root = Path(__file__).resolve().parents[2]
    env = os.environ | {"PATMATCH_HOME": str(settings.home), "PYTHONPATH": str(root),
                        "PATMATCH_DATABASE_URL": db_url}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(k)], env=env, stderr=subprocess.PIPE,
                              text=True) for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    s = open_store(settings)
    assert s.counts()["patents"] == 400
    s.close()
