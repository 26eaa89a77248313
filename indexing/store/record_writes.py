"""The record store's write paths: batched upserts, bulk inserts, label sets, full disks.

Every write runs inside :func:`indexing.store.database.write_transaction` (SQLite: BEGIN
IMMEDIATE, so a read-then-write never fails with "database is locked"). An upsert reads
the stored digests of a batch of ids at once and then writes the batch in bulk: new rows by
``COPY ... FROM STDIN`` on PostgreSQL (psycopg ``cursor.copy``) or one ``executemany`` on
SQLite, changed rows by one ``executemany`` UPDATE. On PostgreSQL an upsert also holds a
transaction-level advisory lock per table, so two ingests of overlapping ids queue (as
they do on SQLite) instead of one failing on the primary key or counting wrongly.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, any_, bindparam, delete, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from indexing.store.database import is_sqlite
from indexing.store.record_contract import UpsertCounts
from indexing.store.tables_records import label_sets, labels

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

BATCH = 5000     # rows read from the caller's iterable per round of lookups and writes
LOOKUP = 900     # ids per IN (...) list on SQLite: under its old bound-parameter limit


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def lock_table_writes(conn: Connection, table: Table) -> None:
    """PostgreSQL: one upsert per table at a time (released at commit or rollback). SQLite
    already has one writer at a time (the write transaction's lock)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                     {"k": f"patmatch.records.{table.name}"})


def in_values(conn: Connection, column: Any, values: Sequence[str]) -> Iterator[Any]:
    """``column IN values`` as few statements as the backend allows: PostgreSQL takes one
    array parameter (``= ANY(%s)``, one round trip); SQLite lists of ``LOOKUP`` values."""
    if not is_sqlite(conn):
        yield column == any_(literal(list(values), ARRAY(Text)))
        return
    for i in range(0, len(values), LOOKUP):
        yield column.in_(values[i:i + LOOKUP])


def stored_digests(conn: Connection, table: Table, ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cond in in_values(conn, table.c.id, ids):
        out.update(conn.execute(select(table.c.id, table.c.content_sha).where(cond)).all())
    return out


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows with the same keys: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if is_sqlite(conn):
        conn.execute(insert(table), list(rows))
        return
    cols = list(rows[0])
    raw = conn.connection.driver_connection  # the psycopg connection, in our transaction
    with raw.cursor() as cur, cur.copy(
            f'COPY {table.name} ({", ".join(cols)}) FROM STDIN') as copy:
        for r in rows:
            copy.write_row([r[c] for c in cols])


def bulk_update(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update many rows by id, each with the same columns (one executemany)."""
    if not rows:
        return
    cols = [c for c in rows[0] if c != "id"]
    stmt = (update(table).where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(c) for c in cols}))
    conn.execute(stmt, [{**{c: r[c] for c in cols}, "b_id": r["id"]} for r in rows])


def upsert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> UpsertCounts:
    """Insert new ids, update changed ones, count unchanged ones. The same id twice in the
    input is compared with its first occurrence (an update when the content differs), as a
    row-at-a-time upsert would. ``rows`` may be a generator; it is read batch by batch."""
    lock_table_writes(conn, table)
    now = now_iso()
    ins = upd = same = 0
    updated: list[str] = []
    it: Iterator[dict[str, Any]] = iter(rows)
    while batch := list(islice(it, BATCH)):
        known = stored_digests(conn, table, list({r["id"] for r in batch}))
        new: dict[str, dict[str, Any]] = {}
        changed: dict[str, dict[str, Any]] = {}
        for r in batch:
            rid, sha = r["id"], r["content_sha"]
            if rid in new or rid in known:
                before = new[rid]["content_sha"] if rid in new else known[rid]
                if before == sha:
                    same += 1
                    continue
                upd += 1
                updated.append(rid)
                if rid in new:
                    new[rid] = r | {"created_at": now, "updated_at": now}
                else:
                    known[rid] = sha
                    changed[rid] = r | {"updated_at": now}
            else:
                ins += 1
                new[rid] = r | {"created_at": now, "updated_at": now}
        bulk_insert(conn, table, list(new.values()))
        bulk_update(conn, table, list(changed.values()))
    return UpsertCounts(ins, upd, same, tuple(updated))


def replace_labels(conn: Connection, side: str, data: Iterable[tuple[str, str]],
                   version: str) -> None:
    """Replace one side's whole label set (``data``: record id, label JSON)."""
    conn.execute(delete(labels).where(labels.c.side == side))
    conn.execute(delete(label_sets).where(label_sets.c.side == side))
    conn.execute(insert(label_sets).values(side=side, version=version, saved_at=now_iso()))
    it = iter(data)
    while chunk := list(islice(it, BATCH)):
        bulk_insert(conn, labels, [{"side": side, "record_id": rid, "data": d}
                                   for rid, d in chunk])


def update_label_rows(conn: Connection, side: str, data: Sequence[tuple[str, str]],
                  drop: Sequence[str], version: str, *, reset: bool = False) -> None:
    """Part of one side's label set: ``data`` (record id, label JSON) replaces those ids'
    labels, ``drop`` ids lose theirs; ``reset`` first empties the side. The set's version
    becomes ``version``."""
    if reset:
        conn.execute(delete(labels).where(labels.c.side == side))
    if conn.execute(update(label_sets).where(label_sets.c.side == side)
                    .values(version=version, saved_at=now_iso())).rowcount == 0:
        conn.execute(insert(label_sets).values(side=side, version=version, saved_at=now_iso()))
    gone = [rid for rid, _ in data] + list(drop)
    if not reset:
        for cond in in_values(conn, labels.c.record_id, gone):
            conn.execute(delete(labels).where((labels.c.side == side) & cond))
    for lo in range(0, len(data), BATCH):
        bulk_insert(conn, labels, [{"side": side, "record_id": rid, "data": d}
                                   for rid, d in data[lo:lo + BATCH]])


def _disk_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) == "53100":  # PostgreSQL disk_full
        return True
    import sqlite3

    return isinstance(orig, sqlite3.OperationalError) and "full" in str(orig)


@contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """A full disk (or a database at its size limit) becomes a StorageFullError that says
    so; the transaction it broke has been rolled back, nothing of the batch is kept."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        if not _disk_full(exc):
            raise
        from patmatch.errors import StorageFullError

        cause = str(getattr(exc, "orig", exc)).strip()
        raise StorageFullError(
            f"磁盘已满（或数据库达到大小上限）：{where} 写入失败，本批数据一条也未保存。"
            f"请释放磁盘空间后重新导入（{cause}）",
            details={"path": where, "error": cause}) from exc


__all__ = ["BATCH", "bulk_insert", "bulk_update", "in_values", "lock_table_writes", "now_iso",
           "replace_labels", "storage_errors", "stored_digests", "update_label_rows", "upsert"]
