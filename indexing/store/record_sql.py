"""The record store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

The engine comes from :func:`indexing.store.schema.open_database` (schema upgraded), so
this class only reads and writes rows of ``tables_records``. It is safe to share between
threads (each call takes a pooled connection); writes go through ``write_transaction``
(see :mod:`indexing.store.record_writes`). Whole-table reads stream: a server-side cursor
on PostgreSQL, SQLite's incremental cursor, ``yield_per`` rows at a time, so a build never
holds the table's rows twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from indexing.records import DemandRecord, PatentRecord
from indexing.store.database import lock_row, write_transaction
from indexing.store.record_codec import RecordCodec, dumps, loads
from indexing.store.record_contract import Store, UpsertCounts
from indexing.store.record_writes import (in_values, lock_table_writes, now_iso, replace_labels,
                                          storage_errors, update_label_rows, upsert)
from indexing.store.tables_records import demands, label_sets, labels, patents
from patmatch.errors import ConfigError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql import Select

    from indexing.privacy import PiiCipher

STREAM = 2000   # rows per fetch of a streamed read
SIDES = ("patents", "demands")


def _side(side: str, what: str = "side") -> str:
    if side not in SIDES:
        raise ConfigError(f"{what} must be 'patents' or 'demands', got {side!r}")
    return side


class SqlStore(Store):
    """Records in the one database (``PATMATCH_DATABASE_URL``), SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, cipher: PiiCipher, *, where: str | None = None) -> None:
        self.engine = engine
        self.codec = RecordCodec(cipher)
        # where writes go, for messages (no password): a file path or a server URL
        self.where = where or engine.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def schema_version(self) -> str | None:
        """The Alembic revision of the database."""
        from indexing.store.schema import current_revisions

        revs = current_revisions(self.engine)
        return revs[0] if revs else None

    # --- rows (kept as methods: tests slow them down to interrupt an ingest midway) -----
    def _patent_row(self, rec: PatentRecord) -> dict[str, Any]:
        return self.codec.patent_row(rec)

    def _demand_row(self, rec: DemandRecord) -> dict[str, Any]:
        return self.codec.demand_row(rec)

    # --- writes ---------------------------------------------------------------------------
    def upsert_patents(self, records: Iterable[PatentRecord]) -> UpsertCounts:
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            return upsert(conn, patents, (self._patent_row(r) for r in records))

    def upsert_demands(self, records: Iterable[DemandRecord]) -> UpsertCounts:
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            return upsert(conn, demands, (self._demand_row(r) for r in records))

    def insert_demand(self, record: DemandRecord) -> DemandRecord:
        """Store a new demand; ConflictError when its id is taken, also when another writer
        took it a moment ago (the primary key decides, on both backends: no check-then-write
        race, no second row, no overwrite)."""
        row = self._demand_row(record)
        now = now_iso()
        try:
            with storage_errors(self.where), write_transaction(self.engine) as conn:
                lock_table_writes(conn, demands)  # an ingest's COPY must not meet it halfway
                conn.execute(insert(demands).values(**row, status=record.status,
                                                    created_at=now, updated_at=now))
        except IntegrityError:
            raise ConflictError(f"demand '{record.id}' already exists; update it with PATCH",
                                details={"id": record.id}) from None
        return record

    def update_demand(self, record: DemandRecord) -> DemandRecord:
        """Replace an existing demand (content, owner and status); NotFoundError if absent.
        A read-modify-write must use :meth:`change_demand` instead (no lost update)."""
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            self._write_demand(conn, record)
        return record

    def change_demand(self, id: str, change: Callable[[DemandRecord], DemandRecord]
                      ) -> DemandRecord:
        """Read one demand, apply ``change`` and write the result, all under the row's lock
        (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite): two writers
        changing different fields at once both keep their change (no lost update).
        NotFoundError if absent; an exception from ``change`` writes nothing."""
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            row = lock_row(conn, demands, {"id": id})
            if row is None:
                raise NotFoundError(f"demand {id!r} not found; nothing updated",
                                    details={"id": id})
            old = self.codec.demand(row.data, row.contact_enc, row.owner, row.status)
            new = change(old)
            if new != old:
                self._write_demand(conn, new)
        return new

    def _write_demand(self, conn: Any, record: DemandRecord) -> None:
        row = self._demand_row(record)
        values = {k: v for k, v in row.items() if k != "id"}
        n = conn.execute(update(demands).where(demands.c.id == record.id).values(
            **values, status=record.status, updated_at=now_iso())).rowcount
        if n == 0:
            raise NotFoundError(f"demand {record.id!r} not found; nothing updated",
                                details={"id": record.id})

    def delete_demand(self, id: str) -> bool:
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            return conn.execute(
                update(demands).where(and_(demands.c.id == id, demands.c.status != "deleted"))
                .values(status="deleted", updated_at=now_iso())).rowcount > 0

    def save_labels(self, side: str, labels: dict[str, dict], version: str) -> None:
        """Replace the whole label set of one side atomically."""
        _side(side, "label side")
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            replace_labels(conn, side, ((rid, dumps(d)) for rid, d in labels.items()), version)

    def update_labels(self, side: str, labels: dict[str, dict], version: str, *,
                      drop: Iterable[str] = (), reset: bool = False) -> None:
        _side(side, "label side")
        with storage_errors(self.where), write_transaction(self.engine) as conn:
            update_label_rows(conn, side, [(rid, dumps(d)) for rid, d in labels.items()],
                          list(drop), version, reset=reset)

    # --- reads ----------------------------------------------------------------------------
    def _one(self, stmt: Select) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).first()

    def _stream(self, stmt: Select) -> Iterator[Any]:
        """Rows of ``stmt`` a batch at a time from one cursor (server-side on PostgreSQL).
        The connection is released when the caller finishes or drops the iterator."""
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=STREAM).execute(stmt)

    def get_patent(self, id: str) -> PatentRecord | None:
        row = self._one(select(patents.c.data).where(patents.c.id == id))
        return self.codec.patent(row[0]) if row else None

    def get_demand(self, id: str) -> DemandRecord | None:
        row = self._one(select(*_DEMAND_COLS).where(demands.c.id == id))
        return self.codec.demand(*row) if row else None

    def iter_patents(self) -> Iterator[PatentRecord]:
        patent = self.codec.patent
        for (data,) in self._stream(select(patents.c.data).order_by(patents.c.id)):
            yield patent(data)

    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]:
        stmt = select(*_DEMAND_COLS).order_by(demands.c.id)
        if not include_deleted:
            stmt = stmt.where(demands.c.status == "active")
        for row in self._stream(stmt):
            yield self.codec.demand(*row)

    @staticmethod
    def _owner_where(stmt: Select, owner: str | None, include_deleted: bool) -> Select:
        if owner is not None:
            stmt = stmt.where(demands.c.owner == owner)
        if not include_deleted:
            stmt = stmt.where(demands.c.status == "active")
        return stmt

    def list_demands(self, owner: str | None = None, limit: int = 50, offset: int = 0, *,
                     include_deleted: bool = False) -> list[DemandRecord]:
        stmt = self._owner_where(select(*_DEMAND_COLS), owner, include_deleted).order_by(
            demands.c.created_at.desc(), demands.c.id).limit(max(0, int(limit))).offset(
            max(0, int(offset)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [self.codec.demand(*r) for r in rows]

    def count_demands(self, owner: str | None = None, *, include_deleted: bool = False) -> int:
        stmt = self._owner_where(select(func.count()).select_from(demands), owner,
                                 include_deleted)
        return int(self._one(stmt)[0])

    def find_text_duplicates(self, kind: str, digests: dict[str, str]) -> dict[str, str]:
        """For {id: text digest}, the stored records with the same text under another id."""
        table = patents if kind == "patents" else demands
        out: dict[str, str] = {}
        items = list(digests.items())
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for cond in in_values(conn, table.c.text_sha, sorted({s for _, s in items})):
                for rid, sha in conn.execute(select(table.c.id, table.c.text_sha).where(cond)):
                    found.setdefault(sha, []).append(rid)
        for rid, sha in items:
            others = [o for o in found.get(sha, []) if o != rid]
            if others:
                out[rid] = min(others)
        return out

    def load_labels(self, side: str) -> dict[str, dict]:
        stmt = select(labels.c.record_id, labels.c.data).where(labels.c.side == side)
        return {rid: loads(d) for rid, d in self._stream(stmt)}

    def iter_labels(self, side: str) -> Iterator[tuple[str, dict]]:
        stmt = (select(labels.c.record_id, labels.c.data).where(labels.c.side == side)
                .order_by(labels.c.record_id))
        for rid, d in self._stream(stmt):
            yield rid, loads(d)

    def labels_version(self, side: str) -> str | None:
        row = self._one(select(label_sets.c.version).where(label_sets.c.side == side))
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        def count_where(cond: Any) -> Any:
            return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

        with self.engine.connect() as conn:
            p = conn.execute(select(func.count()).select_from(patents)).scalar_one()
            d = conn.execute(select(count_where(demands.c.status == "active"),
                                    count_where(demands.c.status == "deleted"),
                                    count_where(demands.c.contact_enc.is_not(None)))).one()
            lab = dict(conn.execute(select(labels.c.side, func.count())
                                    .group_by(labels.c.side)).all())
        return {"patents": int(p), "demands": int(d[0]), "demands_deleted": int(d[1]),
                "patent_labels": int(lab.get("patents", 0)),
                "demand_labels": int(lab.get("demands", 0)),
                "demand_contacts_encrypted": int(d[2])}

    def record_times(self, side: str) -> dict[str, str]:
        table = patents if _side(side) == "patents" else demands
        return dict(self._stream(select(table.c.id, table.c.created_at)))

    def close(self) -> None:
        self.engine.dispose()


_DEMAND_COLS = (demands.c.data, demands.c.contact_enc, demands.c.owner, demands.c.status)

__all__ = ["SqlStore"]
