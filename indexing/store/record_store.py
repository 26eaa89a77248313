"""The record store: a small interface, and its embedded SQLite implementation.

Callers use ``open_store(settings)`` and the ``Store`` methods only, so a PostgreSQL
backend can be added behind ``settings.store_url`` without touching them.

SQLite layout: each record is one row with its id, a keyed content digest (change
detection for idempotent upserts), a digest of its matchable text (exact-duplicate
detection across ids) and the record as JSON. Demand contact fields are never in the
JSON: they sit in ``contact_enc`` as one Fernet token. The tables are declared in
``tables_records.py``; schema changes are Alembic migrations (``indexing.store.schema``).
"""

from __future__ import annotations

import abc
import datetime as _dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from patmatch.errors import ConfigError, NotFoundError

from indexing.records import (DEMAND_COLUMNS, PATENT_COLUMNS, PERSONAL_FIELDS, DemandRecord,
                              PatentRecord)

if TYPE_CHECKING:
    from indexing.privacy import PiiCipher
    from patmatch.settings import Settings


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_ids: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def _loads(data: str) -> Any:
    """orjson where it can (3-4x faster over a 20k-record store), json for what orjson
    refuses (NaN/Infinity written by an older json.dumps, ints beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def text_digest(text: str) -> str:
    """Digest of the matchable text, whitespace-insensitive (exact-duplicate detection)."""
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()


def _content(d: dict[str, Any]) -> str:
    """What decides "changed": everything but provenance (the same row arriving in a
    file with another name is unchanged, not an update)."""
    return json.dumps({k: v for k, v in d.items() if k != "source"}, ensure_ascii=False,
                      sort_keys=True)


def patent_to_dict(rec: PatentRecord) -> dict[str, Any]:
    d = {f: getattr(rec, f) for f in PATENT_COLUMNS}  # shallow: asdict deep-copies (slow)
    d["ipc"], d["inventors"] = list(rec.ipc), list(rec.inventors)
    return d


def patent_from_dict(d: dict[str, Any]) -> PatentRecord:
    d = dict(d)
    d["ipc"], d["inventors"] = tuple(d.get("ipc") or ()), tuple(d.get("inventors") or ())
    return PatentRecord(**d)


class Store(abc.ABC):
    """What callers may rely on. Records in, records out; personal data decrypted."""

    @abc.abstractmethod
    def upsert_patents(self, records: Iterable[PatentRecord]) -> UpsertCounts: ...
    @abc.abstractmethod
    def upsert_demands(self, records: Iterable[DemandRecord]) -> UpsertCounts: ...
    @abc.abstractmethod
    def get_patent(self, id: str) -> PatentRecord | None: ...
    @abc.abstractmethod
    def get_demand(self, id: str) -> DemandRecord | None: ...
    @abc.abstractmethod
    def iter_patents(self) -> Iterator[PatentRecord]: ...
    @abc.abstractmethod
    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]: ...
    @abc.abstractmethod
    def list_demands(self, owner: str | None = None, limit: int = 50, offset: int = 0, *,
                     include_deleted: bool = False) -> list[DemandRecord]: ...
    @abc.abstractmethod
    def count_demands(self, owner: str | None = None, *, include_deleted: bool = False) -> int: ...
    @abc.abstractmethod
    def update_demand(self, record: DemandRecord) -> DemandRecord: ...
    @abc.abstractmethod
    def delete_demand(self, id: str) -> bool: ...
    @abc.abstractmethod
    def save_labels(self, side: str, labels: dict[str, dict], version: str) -> None: ...
    @abc.abstractmethod
    def load_labels(self, side: str) -> dict[str, dict]: ...
    @abc.abstractmethod
    def labels_version(self, side: str) -> str | None: ...
    @abc.abstractmethod
    def find_text_duplicates(self, kind: str, digests: dict[str, str]) -> dict[str, str]: ...
    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...
    @abc.abstractmethod
    def record_times(self, side: str) -> dict[str, str]:
        """Record id -> when it was first ingested (ISO UTC); deleted demands included."""
    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PAGE = 1000


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _rollback(conn: sqlite3.Connection, exc: BaseException, path: Path) -> None:
    """Roll back if a transaction is still open (SQLite ends it by itself on a full disk,
    and "cannot rollback - no transaction is active" then hid the real cause); a full disk
    becomes a StorageFullError that says so."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        from patmatch.errors import StorageFullError

        raise StorageFullError(
            f"磁盘已满（或数据库达到大小上限）：{path} 写入失败，本批数据一条也未保存。"
            f"请释放磁盘空间后重新导入（SQLite: {exc}）",
            details={"path": str(path), "sqlite": str(exc)}) from exc


class SQLiteStore(Store):
    """One connection shared by all threads behind a lock; WAL lets other processes read
    while one writes, and ``busy_timeout`` makes concurrent writers queue instead of fail.
    """

    def __init__(self, path: str | Path, cipher: PiiCipher) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            from indexing.privacy import private_file

            private_file(self.path)  # records: 0600 (SQLite gives -wal/-shm the same mode)
        self._cipher = cipher
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one upsert is exactly
        # one transaction whatever the Python sqlite3 defaults are.
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False,
                                     isolation_level=None, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=60000")
        self._migrate()

    # --- schema --------------------------------------------------------------------------
    def _migrate(self) -> None:
        """The schema belongs to the Alembic migrations (indexing/store/migrations), which
        also adopt a store written before them (its ``schema_version`` table)."""
        from indexing.store.database import create_db_engine
        from indexing.store.schema import ensure_schema

        engine = create_db_engine(f"sqlite:///{self.path}")
        try:
            ensure_schema(engine)
        finally:
            engine.dispose()

    def schema_version(self) -> str | None:
        """The Alembic revision of the database."""
        with self._lock:
            row = self._conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    # --- (de)serialisation ------------------------------------------------------------
    def _patent_row(self, rec: PatentRecord) -> tuple[str, str, str, str]:
        d = patent_to_dict(rec)
        data = json.dumps(d, ensure_ascii=False, sort_keys=True)
        return rec.id, self._cipher.digest(_content(d)), text_digest(rec.text), data

    def _demand_row(self, rec: DemandRecord) -> tuple[str, str, str, str, str | None, str | None]:
        d = {f: getattr(rec, f) for f in DEMAND_COLUMNS}
        personal = {k: d.pop(k) for k in PERSONAL_FIELDS}
        d.pop("owner"), d.pop("status")
        data = json.dumps(d, ensure_ascii=False, sort_keys=True)
        pjson = json.dumps(personal, ensure_ascii=False, sort_keys=True)
        # status is not content: re-ingesting a file must not resurrect a deleted demand
        sha = self._cipher.digest(_content(d) + pjson + str(rec.owner))
        enc = self._cipher.encrypt(pjson) if any(personal.values()) else None
        return rec.id, sha, text_digest(rec.query_text), data, enc, rec.owner

    def _demand_from_row(self, data: str, enc: str | None, owner: str | None,
                         status: str) -> DemandRecord:
        d = _loads(data)
        d.update(_loads(self._cipher.decrypt(enc)) if enc else {})
        return DemandRecord(**d, owner=owner, status=status)

    # --- writes ---------------------------------------------------------------------------
    def _upsert(self, table: str, rows: Iterable[tuple]) -> UpsertCounts:
        ins = upd = same = 0
        updated: list[str] = []
        now = _now()
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    rid, sha = row[0], row[1]
                    old = c.execute(f"SELECT content_sha FROM {table} WHERE id=?", (rid,)).fetchone()
                    if old is None:
                        ins += 1
                        if table == "patents":
                            c.execute("INSERT INTO patents (id, content_sha, text_sha, data, created_at, "
                                      "updated_at) VALUES (?,?,?,?,?,?)", (*row, now, now))
                        else:
                            c.execute("INSERT INTO demands (id, content_sha, text_sha, data, "
                                      "contact_enc, owner, created_at, updated_at) "
                                      "VALUES (?,?,?,?,?,?,?,?)", (*row, now, now))
                    elif old[0] == sha:
                        same += 1
                    else:
                        upd += 1
                        updated.append(rid)
                        if table == "patents":
                            c.execute("UPDATE patents SET content_sha=?, text_sha=?, data=?, "
                                      "updated_at=? WHERE id=?", (*row[1:], now, rid))
                        else:
                            c.execute("UPDATE demands SET content_sha=?, text_sha=?, data=?, "
                                      "contact_enc=?, owner=?, updated_at=? WHERE id=?",
                                      (*row[1:], now, rid))
                c.execute("COMMIT")
            except BaseException as exc:
                _rollback(c, exc, self.path)
                raise
        return UpsertCounts(ins, upd, same, tuple(updated))

    def upsert_patents(self, records: Iterable[PatentRecord]) -> UpsertCounts:
        return self._upsert("patents", (self._patent_row(r) for r in records))

    def upsert_demands(self, records: Iterable[DemandRecord]) -> UpsertCounts:
        return self._upsert("demands", (self._demand_row(r) for r in records))

    def update_demand(self, record: DemandRecord) -> DemandRecord:
        """Replace an existing demand (content, owner and status); NotFoundError if absent."""
        row = self._demand_row(record)
        with self._lock:
            cur = self._conn.execute(
                "UPDATE demands SET content_sha=?, text_sha=?, data=?, contact_enc=?, owner=?, "
                "status=?, updated_at=? WHERE id=?", (*row[1:], record.status, _now(), record.id))
            if cur.rowcount == 0:
                raise NotFoundError(f"demand {record.id!r} not found; nothing updated",
                                    details={"id": record.id})
        return record

    def delete_demand(self, id: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE demands SET status='deleted', updated_at=? WHERE id=? AND status!='deleted'",
                (_now(), id))
            return cur.rowcount > 0

    # --- reads ----------------------------------------------------------------------------
    def get_patent(self, id: str) -> PatentRecord | None:
        with self._lock:
            row = self._conn.execute("SELECT data FROM patents WHERE id=?", (id,)).fetchone()
        return patent_from_dict(_loads(row[0])) if row else None

    def get_demand(self, id: str) -> DemandRecord | None:
        with self._lock:
            row = self._conn.execute("SELECT data, contact_enc, owner, status FROM demands "
                                     "WHERE id=?", (id,)).fetchone()
        return self._demand_from_row(*row) if row else None

    def _pages(self, sql: str, params: tuple = ()) -> Iterator[tuple]:
        """Keyset pagination: the lock is held per page, never across the caller's loop."""
        last = ""
        while True:
            with self._lock:
                rows = self._conn.execute(sql, (*params, last, _PAGE)).fetchall()
            yield from rows
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def iter_patents(self) -> Iterator[PatentRecord]:
        for _id, data in self._pages("SELECT id, data FROM patents WHERE id > ? ORDER BY id LIMIT ?"):
            yield patent_from_dict(_loads(data))

    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]:
        cond = "" if include_deleted else "status='active' AND "
        for _id, *rest in self._pages(
                "SELECT id, data, contact_enc, owner, status FROM demands "
                f"WHERE {cond}id > ? ORDER BY id LIMIT ?"):
            yield self._demand_from_row(*rest)

    def _owner_where(self, owner: str | None, include_deleted: bool) -> tuple[str, tuple]:
        conds, params = [], []
        if owner is not None:
            conds.append("owner=?")
            params.append(owner)
        if not include_deleted:
            conds.append("status='active'")
        return (" WHERE " + " AND ".join(conds)) if conds else "", tuple(params)

    def list_demands(self, owner: str | None = None, limit: int = 50, offset: int = 0, *,
                     include_deleted: bool = False) -> list[DemandRecord]:
        where, params = self._owner_where(owner, include_deleted)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT data, contact_enc, owner, status FROM demands{where} "
                "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                (*params, max(0, int(limit)), max(0, int(offset)))).fetchall()
        return [self._demand_from_row(*r) for r in rows]

    def count_demands(self, owner: str | None = None, *, include_deleted: bool = False) -> int:
        where, params = self._owner_where(owner, include_deleted)
        with self._lock:
            return self._conn.execute(f"SELECT COUNT(*) FROM demands{where}", params).fetchone()[0]

    def find_text_duplicates(self, kind: str, digests: dict[str, str]) -> dict[str, str]:
        """For {id: text digest}, the stored records with the same text under another id."""
        table = "patents" if kind == "patents" else "demands"
        out: dict[str, str] = {}
        items = list(digests.items())
        with self._lock:
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                marks = ",".join("?" * len(chunk))
                found: dict[str, list[str]] = {}
                for rid, sha in self._conn.execute(
                        f"SELECT id, text_sha FROM {table} WHERE text_sha IN ({marks})",
                        [s for _, s in chunk]):
                    found.setdefault(sha, []).append(rid)
                for rid, sha in chunk:
                    others = [o for o in found.get(sha, []) if o != rid]
                    if others:
                        out[rid] = min(others)
        return out

    # --- labels ---------------------------------------------------------------------------
    def save_labels(self, side: str, labels: dict[str, dict], version: str) -> None:
        """Replace the whole label set of one side atomically."""
        if side not in ("patents", "demands"):
            raise ConfigError(f"label side must be 'patents' or 'demands', got {side!r}")
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("DELETE FROM label_sets WHERE side=?", (side,))  # cascades to labels
                c.execute("INSERT INTO label_sets (side, version, saved_at) VALUES (?,?,?)",
                          (side, version, _now()))
                c.executemany("INSERT INTO labels (side, record_id, data) VALUES (?,?,?)",
                              ((side, rid, json.dumps(d, ensure_ascii=False))
                               for rid, d in labels.items()))
                c.execute("COMMIT")
            except BaseException as exc:
                _rollback(c, exc, self.path)
                raise

    def load_labels(self, side: str) -> dict[str, dict]:
        with self._lock:
            rows = self._conn.execute("SELECT record_id, data FROM labels WHERE side=?",
                                      (side,)).fetchall()
        return {rid: _loads(d) for rid, d in rows}

    def labels_version(self, side: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT version FROM label_sets WHERE side=?",
                                     (side,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            q = self._conn.execute
            return {
                "patents": q("SELECT COUNT(*) FROM patents").fetchone()[0],
                "demands": q("SELECT COUNT(*) FROM demands WHERE status='active'").fetchone()[0],
                "demands_deleted": q("SELECT COUNT(*) FROM demands WHERE status='deleted'").fetchone()[0],
                "patent_labels": q("SELECT COUNT(*) FROM labels WHERE side='patents'").fetchone()[0],
                "demand_labels": q("SELECT COUNT(*) FROM labels WHERE side='demands'").fetchone()[0],
                "demand_contacts_encrypted": q(
                    "SELECT COUNT(*) FROM demands WHERE contact_enc IS NOT NULL").fetchone()[0],
            }

    def record_times(self, side: str) -> dict[str, str]:
        if side not in ("patents", "demands"):
            raise ConfigError(f"side must be 'patents' or 'demands', got {side!r}")
        with self._lock:
            return dict(self._conn.execute(f"SELECT id, created_at FROM {side}").fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(settings: Settings | None = None) -> Store:
    """The store named by ``settings.store_url`` (default: SQLite in the data home)."""
    from indexing.privacy import PiiCipher

    if settings is None:
        from patmatch.settings import get_settings

        settings = get_settings()
    url = settings.resolved_store_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):]).expanduser()
        return SQLiteStore(path, PiiCipher.from_settings(settings))
    raise ConfigError(
        f"unsupported store URL {url!r}: this build supports sqlite:///PATH only "
        "(a PostgreSQL backend can be added behind indexing.store.record_store.Store)",
        details={"store_url": url})
