"""The typed interfaces between the API's services and the engine behind them.

The real engine (``api.live.LiveEngine`` over indexing/ and matcher/) and the test fakes
(``tests.api.fakes``) implement the same Protocols; tests/api/test_contracts.py checks
both with ``isinstance`` and by comparing method signatures, so a fake cannot drift from
what it stands in for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MatchList(Protocol):
    """One ranked page: ``total`` over the whole list, ``items`` matches or pairs."""

    total: int
    items: Sequence[Any]


@runtime_checkable
class Ranker(Protocol):
    """Ranks records for a query (``matcher.ranker.HybridRanker``)."""

    def match_text(self, text: str, *, filters: Any = None, limit: int = 10,
                   offset: int = 0, fusion: Any = None) -> MatchList: ...

    def match_demand(self, demand_id: str, *, filters: Any = None, limit: int = 10,
                     offset: int = 0, fusion: Any = None) -> MatchList: ...

    def match_patent(self, patent_id: str, *, filters: Any = None, limit: int = 10,
                     offset: int = 0, fusion: Any = None) -> MatchList: ...

    def chain_pairs(self, chain: str, *, limit: int = 50, offset: int = 0) -> MatchList: ...


@runtime_checkable
class DemandStore(Protocol):
    """The record store as the API uses it (``indexing.store.record_store.Store``)."""

    def get_patent(self, id: str) -> Any: ...

    def get_demand(self, id: str) -> Any: ...

    def iter_demands(self, include_deleted: bool = False) -> Iterator[Any]: ...

    def list_demands(self, owner: str | None = None, limit: int = 50,
                     offset: int = 0) -> list[Any]: ...

    def count_demands(self, owner: str | None = None) -> int: ...

    def upsert_demands(self, records: Iterable[Any]) -> Any: ...

    def insert_demand(self, record: Any) -> Any: ...

    def update_demand(self, record: Any) -> Any: ...

    def change_demand(self, id: str, change: Callable[[Any], Any]) -> Any: ...

    def delete_demand(self, id: str) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Snapshot:
    """One loaded bundle and the ranker over it; immutable once published to requests."""

    build_id: str
    path: Path
    ranker: Ranker
    bundle: Any  # indexing.index.bundle.IndexBundle for the real engine; None in fakes
    manifest: dict[str, Any] = field(default_factory=dict)
    loaded_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class Fallback:
    """The published bundle does not verify and an earlier one serves in its place."""

    published: str  # the build id CURRENT.json names
    serving: str  # the build id served instead: the newest earlier bundle that verifies
    reason: str  # why the published one was refused (checksum, missing file, ...)
    advice: str  # the command that makes the served bundle current again


@dataclass(frozen=True)
class ChainInfo:
    id: str
    name_zh: str
    name_en: str | None = None


@runtime_checkable
class EngineBackend(Protocol):
    """What each engine implementation provides to ``api.engine.Engine``'s swap logic."""

    def open_store(self) -> DemandStore: ...

    def locate_current(self) -> Path:
        """Path of the published bundle; raises NoBundleError when there is none."""
        ...

    def load_snapshot(self, path: Path) -> Snapshot: ...

    def forget_snapshots(self) -> None:
        """Drop snapshots kept for fast swaps."""
        ...

    def fallback_paths(self) -> list[Path]:
        """Earlier published bundles to serve when the current one does not verify, the
        newest first (the pointer's history: the bundles that were current before)."""
        ...

    def chains(self) -> list[ChainInfo]: ...

    def make_filters(self, **kwargs: Any) -> Any: ...

    def make_fusion(self, overrides: dict[str, Any] | None) -> Any:
        """The served fusion with a request's overrides; None = the served one unchanged."""
        ...

    def mask_demand(self, rec: Any) -> Any:
        """The record with every personal field masked."""
        ...

    def run_batch(self, input_path: Path, output_path: Path, *, top_k: int,
                  chains: tuple[str, ...], direction: str,
                  progress: Callable[[float], None]) -> int: ...

    def rebuild(self) -> str: ...

    def publish(self, build_id: str | None, *, force: bool) -> str: ...

    def rollback(self) -> str: ...


@runtime_checkable
class ServingEngine(EngineBackend, Protocol):
    """What services and routers may use: the backend plus the swap and store logic."""

    ranking: threading.BoundedSemaphore
    last_reload_error: str | None
    fallback: Fallback | None

    @property
    def store(self) -> DemandStore: ...

    @property
    def current(self) -> Snapshot | None: ...

    def snapshot(self) -> Snapshot: ...

    def refresh(self, *, force: bool = False, retry: bool = False) -> bool: ...

    def iter_demands(self) -> Iterator[Any]: ...

    def close(self) -> None: ...
