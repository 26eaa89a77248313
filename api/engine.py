"""The engine: what the routers talk to - the current bundle + ranker, the store, admin.

Routers never import ``indexing``/``matcher`` themselves; they ask the engine. Tests
substitute a fake engine (``create_app(engine=...)``) satisfying the same Protocol
(``api.services.contracts.ServingEngine``).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patmatch.errors import NoBundleError
from patmatch.settings import Settings

from api.services.contracts import ChainInfo, DemandStore, Snapshot

if TYPE_CHECKING:
    from api.services.contracts import EngineBackend

__all__ = ["ChainInfo", "Engine", "Snapshot"]

log = logging.getLogger("patmatch.api.engine")

RANKING_SLOTS = max(2, os.cpu_count() or 2)


class Engine:
    """Swap logic and per-thread store over a backend.

    A concrete engine subclasses this and implements ``EngineBackend``; the result
    satisfies ``ServingEngine``, the one type services and routers depend on.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._current: Snapshot | None = None
        self._refresh_lock = threading.Lock()
        self._local = threading.local()
        self._stores: list[DemandStore] = []
        self._stores_lock = threading.Lock()
        self.swap_listeners: list[Callable[[Snapshot], None]] = []
        self.last_reload_error: str | None = None
        # Ranking is CPU-bound: a few at a time per process, the rest wait their turn
        # instead of 40 threads thrashing the GIL and the caches (better tail latency
        # and throughput at high concurrency; light endpoints are not gated).
        self.ranking = threading.BoundedSemaphore(RANKING_SLOTS)

    # The backend methods (open_store, locate_current, load_snapshot, chains, make_filters,
    # make_fusion, run_batch, rebuild, publish, rollback) are stated by
    # api.services.contracts.EngineBackend; subclasses implement them.
    def forget_snapshots(self) -> None:
        """Drop snapshots kept for fast swaps (LiveEngine keeps the last two)."""

    def mask_demand(self, rec: Any) -> Any:
        """The record with every personal field masked (indexing.privacy decides how)."""
        from indexing.privacy import mask_demand

        return mask_demand(rec)

    def close(self) -> None:
        with self._stores_lock:
            for store in self._stores:
                try:
                    store.close()
                except Exception:  # closing on shutdown must not mask the real exit
                    log.debug("store close failed", exc_info=True)
            self._stores.clear()

    # --- shared behaviour -------------------------------------------------------------
    @property
    def store(self) -> DemandStore:
        """A store connection for the calling thread (SQLite connections stay in one thread)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._backend.open_store()
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    @property
    def _backend(self) -> EngineBackend:
        return self  # type: ignore[return-value]  # subclasses implement EngineBackend

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
            path = self._backend.locate_current()
            cur = self._current
            if cur is not None and not force and Path(path) == cur.path:
                return False
            if force:  # a forced reload reads the bundle from disk again
                self.forget_snapshots()
            snap = self._backend.load_snapshot(Path(path))
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
            snap.ranker.match_text("锂电池 低温", filters=self._backend.make_filters(),
                                  limit=1)
        except Exception:
            log.warning("warm-up query failed on %s", snap.build_id, exc_info=True)

    def iter_demands(self) -> Iterator[Any]:
        return iter(self.store.iter_demands())
