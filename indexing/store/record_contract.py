"""What callers of the record store may rely on: the ``Store`` interface and its counts.

Records in, records out, personal data decrypted. One implementation
(:class:`indexing.store.record_sql.SqlStore`) serves SQLite and PostgreSQL; callers get it
from :func:`indexing.store.record_store.open_store` and use these methods only.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from indexing.records import DemandRecord, PatentRecord


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_ids: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


class Store(abc.ABC):
    """The record store interface (patents, demands, label sets)."""

    @abc.abstractmethod
    def upsert_patents(self, records: Iterable[PatentRecord]) -> UpsertCounts:
        """Insert new ids, update changed ones, count unchanged ones: one transaction."""
    @abc.abstractmethod
    def upsert_demands(self, records: Iterable[DemandRecord]) -> UpsertCounts: ...
    @abc.abstractmethod
    def get_patent(self, id: str) -> PatentRecord | None: ...
    @abc.abstractmethod
    def get_demand(self, id: str) -> DemandRecord | None: ...
    @abc.abstractmethod
    def iter_patents(self) -> Iterator[PatentRecord]:
        """Every patent in id order, streamed (never the whole table in memory)."""
    @abc.abstractmethod
    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]: ...
    @abc.abstractmethod
    def list_demands(self, owner: str | None = None, limit: int = 50, offset: int = 0, *,
                     include_deleted: bool = False) -> list[DemandRecord]: ...
    @abc.abstractmethod
    def count_demands(self, owner: str | None = None, *, include_deleted: bool = False) -> int: ...
    @abc.abstractmethod
    def insert_demand(self, record: DemandRecord) -> DemandRecord:
        """A new demand; ConflictError when the id is taken (atomically)."""
    @abc.abstractmethod
    def update_demand(self, record: DemandRecord) -> DemandRecord: ...
    @abc.abstractmethod
    def change_demand(self, id: str, change: Callable[[DemandRecord], DemandRecord]
                      ) -> DemandRecord:
        """Read-modify-write of one demand under its row lock (no lost update)."""
    @abc.abstractmethod
    def delete_demand(self, id: str) -> bool: ...
    @abc.abstractmethod
    def save_labels(self, side: str, labels: dict[str, dict], version: str) -> None: ...
    @abc.abstractmethod
    def load_labels(self, side: str) -> dict[str, dict]: ...
    @abc.abstractmethod
    def labels_version(self, side: str) -> str | None: ...

    def update_labels(self, side: str, labels: dict[str, dict], version: str, *,
                      drop: Iterable[str] = (), reset: bool = False) -> None:
        """Part of one side's label set, in one transaction: ``labels`` replace those
        records' labels, ``drop`` ids lose theirs, ``reset`` first empties the side; the
        set's version becomes ``version`` (relabelling writes batch by batch)."""
        have = {} if reset else self.load_labels(side)
        for rid in drop:
            have.pop(rid, None)
        self.save_labels(side, {**have, **labels}, version)

    def iter_labels(self, side: str) -> Iterator[tuple[str, dict]]:
        """``(record id, label)`` of one side in id order, streamed (a build joins them
        to ``iter_patents``/``iter_demands`` without holding a side's labels)."""
        yield from sorted(self.load_labels(side).items())

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


__all__ = ["Store", "UpsertCounts"]
