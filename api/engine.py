"""The engine: what the routers talk to - the current bundle + ranker, the store, admin.

Routers never import ``indexing``/``matcher`` themselves; they ask the engine. Tests
substitute a fake engine (``create_app(engine=...)``) that implements the same hooks.

Hot swap without failures: a request takes ``engine.snapshot()`` once and uses that
object to the end; ``refresh()`` builds the next snapshot completely (load, verify, warm
up) *before* replacing the reference in one assignment. Requests in flight keep the old
snapshot alive until they finish (plain reference counting); none sees a half-loaded
bundle, and no lock is held on the query path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from patmatch.errors import NoBundleError
from patmatch.settings import Settings

log = logging.getLogger("patmatch.api.engine")

RANKING_SLOTS = max(2, os.cpu_count() or 2)


@dataclass(frozen=True)
class Snapshot:
    """One loaded bundle and the ranker over it; immutable once published to requests."""

    build_id: str
    path: Path
    ranker: Any
    bundle: Any
    manifest: dict[str, Any] = field(default_factory=dict)
    loaded_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class ChainInfo:
    id: str
    name_zh: str
    name_en: str | None = None


class Engine:
    """Base engine: swap logic, per-thread store. Subclasses provide the loaders."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._current: Snapshot | None = None
        self._refresh_lock = threading.Lock()
        self._local = threading.local()
        self._stores: list[Any] = []
        self._stores_lock = threading.Lock()
        self.swap_listeners: list[Callable[[Snapshot], None]] = []
        self.last_reload_error: str | None = None
        # Ranking is CPU-bound: a few at a time per process, the rest wait their turn
        # instead of 40 threads thrashing the GIL and the caches (better tail latency
        # and throughput at high concurrency; light endpoints are not gated).
        self.ranking = threading.BoundedSemaphore(RANKING_SLOTS)

    # --- hooks (LiveEngine implements them with the real modules) ---------------------
    def open_store(self) -> Any:
        raise NotImplementedError

    def locate_current(self) -> Path:
        """Path of the published bundle; raises NoBundleError when there is none."""
        raise NotImplementedError

    def load_snapshot(self, path: Path) -> Snapshot:
        raise NotImplementedError

    def chains(self) -> list[ChainInfo]:
        raise NotImplementedError

    def forget_snapshots(self) -> None:
        """Drop snapshots kept for fast swaps (LiveEngine keeps the last two)."""

    def make_filters(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def make_fusion(self, overrides: dict[str, Any] | None) -> Any:
        raise NotImplementedError

    def run_batch(self, input_path: Path, output_path: Path, *, top_k: int,
                  chains: tuple[str, ...], direction: str,
                  progress: Callable[[float], None]) -> int:
        raise NotImplementedError

    def rebuild(self) -> str:
        raise NotImplementedError

    def publish(self, build_id: str | None, *, force: bool) -> str:
        raise NotImplementedError

    def rollback(self) -> str:
        raise NotImplementedError

    def mask_demand(self, rec: Any) -> Any:
        """The record with every personal field masked (indexing.privacy decides how)."""
        from indexing.privacy import mask_demand

        return mask_demand(rec)

    def close(self) -> None:
        with self._stores_lock:
            for s in self._stores:
                try:
                    s.close()
                except Exception:  # closing on shutdown must not mask the real exit
                    log.debug("store close failed", exc_info=True)
            self._stores.clear()

    # --- shared behaviour -------------------------------------------------------------
    @property
    def store(self) -> Any:
        """A store connection for the calling thread (SQLite connections stay in one thread)."""
        s = getattr(self._local, "store", None)
        if s is None:
            s = self.open_store()
            self._local.store = s
            with self._stores_lock:
                self._stores.append(s)
        return s

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def snapshot(self) -> Snapshot:
        snap = self._current
        if snap is None:
            raise NoBundleError(
                "no index bundle is loaded: publish one (patmatch build && patmatch publish) "
                "and the service picks it up", details={"reason": self.last_reload_error})
        return snap

    def refresh(self, *, force: bool = False) -> bool:
        """Load the published bundle if it differs from the served one; True if swapped.

        A failed load keeps serving the old bundle and records the reason.
        """
        with self._refresh_lock:
            path = self.locate_current()
            cur = self._current
            if cur is not None and not force and Path(path) == cur.path:
                return False
            if force:  # a forced reload reads the bundle from disk again
                self.forget_snapshots()
            snap = self.load_snapshot(Path(path))
            self.warm_up(snap)
            self._current = snap  # the swap: one reference assignment
            self.last_reload_error = None
        log.info("serving bundle %s from %s", snap.build_id, snap.path)
        for listener in self.swap_listeners:
            listener(snap)
        return True

    def warm_up(self, snap: Snapshot) -> None:
        """Per-bundle precomputation (matcher's ``prepare``) and one query, so the first
        real requests do not pay lazy initialisation."""
        prepare = getattr(snap.ranker, "prepare", None)
        if callable(prepare):
            try:
                t0 = time.perf_counter()
                # while another bundle serves, leave the GIL to its requests now and then
                done = prepare(yield_gil=self._current is not None)
                log.info("prepared bundle %s in %.1f s: %s", snap.build_id,
                         time.perf_counter() - t0, done)
            except Exception:  # serving unprepared is slower, never wrong
                log.warning("preparing %s failed", snap.build_id, exc_info=True)
        try:
            snap.ranker.match_text("锂电池 低温", filters=self.make_filters(), limit=1)
        except Exception:
            log.warning("warm-up query failed on %s", snap.build_id, exc_info=True)

    def iter_demands(self) -> Iterator[Any]:
        return iter(self.store.iter_demands())
