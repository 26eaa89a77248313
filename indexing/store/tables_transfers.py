"""The transfer-event table (专利转让 / 许可 / 开放许可 / 作价入股 / 质押) and its repository.

One row per event. The id is a digest of what identifies the event in the register
(patent number, event type, effective date, both parties), so the same notice arriving
again, from another file or in another format, is the same row; ``digest`` covers every
stored value, so a corrected amount or address is an *update*, an identical row a
*duplicate*. Declared on the one ``metadata``; Alembic creates it on both backends.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import (Boolean, Column, Float, Index, Integer, String, Table, Text, bindparam,
                        func, select)

from indexing.store.database import byte_ordered, metadata, write_transaction

if TYPE_CHECKING:
    import polars as pl
    from sqlalchemy.engine import Engine

transfer_events = Table(
    "transfer_events", metadata,
    Column("id", byte_ordered(String(40)), primary_key=True),
    Column("patent_id", byte_ordered(String(64)), nullable=False, index=True),
    Column("event_type", String(16), nullable=False),     # 转让, 独占许可, ..., 质押
    Column("event_group", String(8), nullable=False),     # 转让 / 许可 / 开放许可 / 作价入股 / 质押
    Column("effective_date", String(10), nullable=False, index=True),
    Column("assignor", Text, nullable=False),
    Column("assignor_type", String(16)),
    Column("assignor_address", Text),
    Column("assignor_province", String(32)),
    Column("assignor_city", String(32)),
    Column("assignor_district", String(32)),
    Column("assignee", Text, nullable=False),
    Column("assignee_type", String(16)),
    Column("assignee_address", Text),
    Column("assignee_province", String(32)),
    Column("assignee_city", String(32)),
    Column("assignee_district", String(32)),
    Column("amount_wan", Float),                          # 合同金额（万元）, when known
    Column("source", String(32), nullable=False),         # cnipa / platform / <file name>
    Column("source_ref", String(128)),                    # the platform deal id, a notice no.
    Column("patent_known", Boolean, nullable=False, default=False),
    Column("chains", Text),                               # JSON list, from the patent labels
    Column("holder_type", String(16)),                    # the patent's applicant type
    Column("digest", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_transfer_events_assignor_province_date", "assignor_province", "effective_date"),
)


@dataclass(frozen=True, slots=True)
class TransferEvent:
    id: str
    patent_id: str
    event_type: str
    event_group: str
    effective_date: str
    assignor: str
    assignee: str
    source: str
    assignor_type: str | None = None
    assignor_address: str | None = None
    assignor_province: str | None = None
    assignor_city: str | None = None
    assignor_district: str | None = None
    assignee_type: str | None = None
    assignee_address: str | None = None
    assignee_province: str | None = None
    assignee_city: str | None = None
    assignee_district: str | None = None
    amount_wan: float | None = None
    source_ref: str | None = None
    patent_known: bool = False
    chains: tuple[str, ...] = ()
    holder_type: str | None = None

    def row(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["chains"] = json.dumps(list(self.chains), ensure_ascii=False)
        return d

    def digest(self) -> str:
        """Everything stored except provenance: the same event from another file is unchanged."""
        d = self.row()
        d.pop("source", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True, ensure_ascii=False,
                                         default=str).encode("utf-8")).hexdigest()


EVENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TransferEvent))


def event_id(patent_id: str, event_type: str, date: str, assignor: str, assignee: str) -> str:
    """Stable id: ``te-`` + 32 hex of the identifying fields (whitespace-insensitive)."""
    key = "|".join("".join(str(x).split()) for x in (patent_id, event_type, date, assignor,
                                                     assignee))
    return "te-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class TransferCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class TransferRepository:
    """Transfer events over an Engine (SQLite or PostgreSQL)."""

    CHUNK = 900  # under SQLite's bound-parameter limit for IN lists

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        """Create the table when missing (tests, and databases not yet under Alembic)."""
        metadata.create_all(self.engine, tables=[transfer_events])

    def upsert(self, events: Iterable[TransferEvent]) -> TransferCounts:
        """Insert new ids, update changed ones, count identical ones; one transaction."""
        batch = list(events)
        inserted = updated = unchanged = 0
        now = _now()
        t = transfer_events
        with write_transaction(self.engine) as conn:
            for i in range(0, len(batch), self.CHUNK * 20):
                part = batch[i:i + self.CHUNK * 20]
                ids = [e.id for e in part]
                old: dict[str, str] = {}
                for j in range(0, len(ids), self.CHUNK):
                    old.update(conn.execute(select(t.c.id, t.c.digest)
                                            .where(t.c.id.in_(ids[j:j + self.CHUNK]))).all())
                new_rows, changed = [], []
                for e in part:
                    dg = e.digest()
                    if e.id not in old:
                        new_rows.append(e.row() | {"digest": dg, "created_at": now,
                                                   "updated_at": now})
                        old[e.id] = dg
                    elif old[e.id] != dg:
                        changed.append(e.row() | {"digest": dg, "updated_at": now,
                                                  "b_id": e.id})
                        old[e.id] = dg
                    else:
                        unchanged += 1
                if new_rows:
                    conn.execute(t.insert(), new_rows)
                if changed:
                    values = {c: bindparam(c) for c in changed[0] if c not in ("b_id", "id")}
                    conn.execute(t.update().where(t.c.id == bindparam("b_id")).values(values),
                                 changed)
                inserted += len(new_rows)
                updated += len(changed)
        return TransferCounts(inserted, updated, unchanged)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(transfer_events)).scalar())

    def get(self, id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(transfer_events).where(transfer_events.c.id == id)).first()
        return dict(r._mapping) if r is not None else None

    def fingerprint(self) -> str:
        """Changes whenever an event is added or changed: count, last update, digest sum."""
        t = transfer_events
        with self.engine.connect() as conn:
            n, last = conn.execute(select(func.count(), func.max(t.c.updated_at))).one()
        return hashlib.sha256(f"{n}|{last}".encode()).hexdigest()[:16]

    def frame(self, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Every event as a polars frame (the statistics work on this, vectorised)."""
        import polars as pl

        cols = list(columns or (c for c in EVENT_COLUMNS))
        t = transfer_events
        schema = {c: (pl.Float64 if c == "amount_wan" else pl.Boolean if c == "patent_known"
                      else pl.Utf8) for c in cols}
        with self.engine.connect() as conn:
            cur = conn.execution_options(stream_results=True, yield_per=100_000).execute(
                select(*(t.c[c] for c in cols)))
            parts = [pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
                     for rows in cur.partitions()]
        if not parts:
            return pl.DataFrame(schema=schema)
        return pl.concat(parts, rechunk=True)


__all__ = ["EVENT_COLUMNS", "TransferCounts", "TransferEvent", "TransferRepository", "event_id",
           "open_transfers",
           "transfer_events"]


def open_transfers(settings: Any) -> TransferRepository:
    """The repository on the configured database (``PATMATCH_DATABASE_URL``), its schema
    upgraded (migration 0004_transfers creates the table)."""
    from indexing.store.schema import open_database

    return TransferRepository(open_database(settings))
