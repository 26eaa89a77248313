"""Hot reload: follow the published-bundle pointer and swap without a restart.

A background task polls the CURRENT pointer every ``api_reload_poll_seconds``;
``POST /v1/admin/reload`` (and publish/rollback through the API) check at once. Loading
runs in a worker thread so the event loop keeps serving; the engine swaps its snapshot
only after the new bundle is fully loaded and warmed up (see api/engine.py), so requests
in flight finish on the old bundle and none fails during the switch. Each worker process
of ``patmatch serve --workers N`` polls on its own.
"""

from __future__ import annotations

import asyncio
import logging

import anyio

from patmatch.errors import NoBundleError, PatmatchError

from api.services.contracts import ServingEngine
from api.metrics import Metrics

log = logging.getLogger("patmatch.api.reload")


def check_now(engine: ServingEngine, metrics: Metrics, *, force: bool = False,
              retry: bool = False) -> bool:
    """Load the published bundle if it changed; True when the service switched."""
    try:
        swapped = engine.refresh(force=force, retry=retry)
    except NoBundleError as exc:
        engine.last_reload_error = exc.message
        raise
    except Exception as exc:
        msg = exc.message if isinstance(exc, PatmatchError) else f"{type(exc).__name__}: {exc}"
        if not (engine.last_reload_error or "").startswith(msg):  # keep the engine's advice
            engine.last_reload_error = msg
        metrics.reloads.labels(result="failed").inc()
        raise
    if swapped:
        fallback = getattr(engine, "fallback", None) is not None
        metrics.reloads.labels(result="fallback" if fallback else "ok").inc()
    return swapped


class BundleWatcher:
    def __init__(self, engine: ServingEngine, metrics: Metrics, interval: float) -> None:
        self.engine, self.metrics, self.interval = engine, metrics, interval
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        last_error: str | None = None
        while True:
            await asyncio.sleep(self.interval)
            try:
                await anyio.to_thread.run_sync(check_now, self.engine, self.metrics)
                last_error = None
            except asyncio.CancelledError:
                raise
            except NoBundleError:
                pass  # nothing published yet; /readyz says so
            except Exception as exc:
                # keep serving the old bundle; log each distinct failure once
                msg = str(exc)
                if msg != last_error:
                    log.error("bundle reload failed, still serving the previous one: %s", msg)
                last_error = msg
