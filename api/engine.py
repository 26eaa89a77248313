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

from patmatch.errors import NoBundleError, PatmatchError
from patmatch.settings import Settings

from api.services.contracts import ChainInfo, DemandStore, Fallback, Snapshot

if TYPE_CHECKING:
    from api.services.contracts import EngineBackend

__all__ = ["ChainInfo", "Engine", "Snapshot"]

log = logging.getLogger("patmatch.api.engine")

RANKING_SLOTS = max(2, os.cpu_count() or 2)
# how often a published bundle that failed to verify is tried again (it is read and
# checksummed in full each time; a repaired bundle is picked up within this delay)
RETRY_BROKEN_SECONDS = 30.0


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
        self.fallback: Fallback | None = None
        self._broken: tuple[Path, float] | None = None  # (published path, retry after)
        # Ranking is CPU-bound: a few at a time per process, the rest wait their turn
        # instead of 40 threads thrashing the GIL and the caches (better tail latency
        # and throughput at high concurrency; light endpoints are not gated).
        self.ranking = threading.BoundedSemaphore(RANKING_SLOTS)

    # The backend methods (open_store, locate_current, load_snapshot, chains, make_filters,
    # make_fusion, run_batch, rebuild, publish, rollback) are stated by
    # api.services.contracts.EngineBackend; subclasses implement them.
    def forget_snapshots(self) -> None:
        """Drop snapshots kept for fast swaps (LiveEngine keeps the last two)."""

    def fallback_paths(self) -> list[Path]:
        """Earlier bundles to fall back to, newest first (none unless a backend says)."""
        return []

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
            if self.last_reload_error:
                raise NoBundleError(f"no verified index bundle is loaded: {self.last_reload_error}",
                                    details={"reason": self.last_reload_error})
            raise NoBundleError(
                "no index bundle is loaded: publish one (patmatch build && patmatch publish) "
                "and the service picks it up", details={"reason": self.last_reload_error})
        return snap

    def refresh(self, *, force: bool = False, retry: bool = False) -> bool:
        """Load the published bundle if it differs from the served one; True if swapped.

        A published bundle that does not verify (checksum mismatch, missing or unreadable
        file, built for another encoder) is never served: the newest earlier bundle that
        verifies serves instead (``self.fallback`` says which and why, ``/readyz`` and the
        log say so), and the broken one is tried again every ``RETRY_BROKEN_SECONDS`` (at
        once with ``retry``: an operator's explicit reload).
        Raises only when nothing verifies and nothing is being served.
        """
        with self._refresh_lock:
            path = Path(self._backend.locate_current())
            cur = self._current
            if cur is not None and not force and path == cur.path:
                if self.fallback is not None:  # re-pointed at the served bundle (rollback)
                    self.fallback, self._broken, self.last_reload_error = None, None, None
                    log.info("bundle %s is the published one again: fallback ended",
                             cur.build_id)
                return False
            broken = self._broken
            if (not force and not retry and broken is not None and broken[0] == path
                    and time.monotonic() < broken[1]):
                return False
            if force:  # a forced reload reads the bundle from disk again
                self.forget_snapshots()
            fallback: Fallback | None = None
            try:
                snap = self._backend.load_snapshot(path)
                self.warm_up(snap)
            except Exception as exc:
                snap, fallback = self._fall_back(path, exc)
            self._broken = (path, time.monotonic() + RETRY_BROKEN_SECONDS) if fallback else None
            changed = fallback != self.fallback
            self.fallback = fallback
            self.last_reload_error = fallback.reason if fallback else None
            swapped = snap is not cur
            if swapped:
                self._current = snap  # the swap: one reference assignment
        if fallback is not None and changed:
            log.error("bundle %s (the published one) does not verify: %s. Serving %s instead, "
                      "the newest earlier bundle that verifies. To fix: `%s`, or rebuild: "
                      "`patmatch build && patmatch publish`", fallback.published,
                      fallback.reason, fallback.serving, fallback.advice)
        elif changed:
            log.info("the published bundle verifies again: fallback ended")
        if not swapped:
            return False
        log.info("serving bundle %s from %s", snap.build_id, snap.path)
        for listener in self.swap_listeners:
            listener(snap)
        return True

    def _fall_back(self, path: Path, exc: Exception) -> tuple[Snapshot, Fallback]:
        """The newest earlier bundle that verifies (the served one counts, already verified),
        with the reason and the command that makes it current; re-raises ``exc`` when
        nothing verifies and nothing serves."""
        reason = exc.message if isinstance(exc, PatmatchError) else f"{type(exc).__name__}: {exc}"
        cur = self._current
        candidates = [c for c in self._backend.fallback_paths() if Path(c) != path]
        chosen: Snapshot | None = None
        for cand in candidates:
            if cur is not None and Path(cand) == cur.path:
                chosen = cur
                break
            try:
                chosen = self._backend.load_snapshot(Path(cand))
                self.warm_up(chosen)
                break
            except Exception as other:  # try the next older one
                log.warning("earlier bundle %s does not verify either: %s", Path(cand).name,
                            other)
        if chosen is None:
            chosen = cur  # not in the history (e.g. published by hand): verified at its load
        if chosen is None:
            self.last_reload_error = (
                f"{reason}; no earlier bundle verifies: rebuild with "
                "`patmatch build && patmatch publish`")
            raise exc
        # `patmatch rollback` makes the newest earlier bundle current; an older one needs
        # publishing back by id
        first = Path(candidates[0]) if candidates else None
        advice = ("patmatch rollback" if first is not None and chosen.path == first
                  else f"patmatch publish {chosen.build_id}")
        return chosen, Fallback(published=path.name, serving=chosen.build_id, reason=reason,
                                advice=advice)

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
