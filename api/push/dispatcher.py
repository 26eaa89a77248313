"""Compute and send digests, outside the publish path.

:func:`push_now` = :func:`api.push.digest.run_digests` (queue never-delivered pairs of due
subscriptions) + :func:`send_pending` (claim due deliveries, send one digest per
subscription through its channel, record sent / failed with back-off / dead after
``PATMATCH_PUSH_MAX_ATTEMPTS``). Nothing here raises for a channel failure: a dead
endpoint costs its own subscription a retry, never the others, never a publish.

Publishing never waits: the CLI's ``publish``/``nightly`` start ``patmatch push`` as a
detached process (:func:`spawn_push`), and the API runs :class:`PushWorker` on a
background thread when it swaps to a new bundle.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.push.channels import channel_for
from api.push.channels.digest import Channel, DeliveryError, DigestContext
from api.push.digest import DigestResult, run_digests
from api.push.records import now_utc
from api.push.store import PushStore
from api.push.tokens import make_token, token_key

log = logging.getLogger("patmatch.push")


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # subscription id -> last error


@dataclass
class PushReport:
    build_id: str
    digests: list[DigestResult]
    send: SendReport | None

    @property
    def queued(self) -> int:
        return sum(d.queued for d in self.digests)

    def summary(self) -> dict[str, Any]:
        s = self.send or SendReport()
        return {"build_id": self.build_id, "subscriptions": len(self.digests),
                "selected": sum(len(d.selected) for d in self.digests), "queued": self.queued,
                "skipped": {d.subscription_id: d.skipped for d in self.digests if d.skipped},
                "sent": s.sent, "failed": s.failed, "dead": s.dead, "errors": s.errors}


def _chain_names() -> dict[str, str]:
    try:
        from labeling_spec import load_taxonomy

        return {c.id: c.name_zh for c in load_taxonomy().chains}
    except Exception:  # noqa: BLE001 - names are a nicety; ids still show
        return {}


def digest_context(settings: Any) -> DigestContext:
    key = token_key(settings.keys_dir)
    return DigestContext(settings=settings, token_for=lambda did: make_token(key, did),
                         chain_names=_chain_names())


def send_pending(store: PushStore, settings: Any, *, now: _dt.datetime | None = None,
                 channels: Callable[[str], Channel] = channel_for,
                 subscription_ids: list[str] | None = None) -> SendReport:
    """Send every due delivery, one digest per subscription; record each outcome."""
    worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    claimed = store.claim_due(worker, now=now, subscription_ids=subscription_ids)
    report = SendReport()
    if not claimed:
        return report
    ctx = digest_context(settings)
    by_sub: dict[str, list] = defaultdict(list)
    for d in claimed:
        by_sub[d.subscription_id].append(d)
    for sid, items in by_sub.items():
        ids = [d.id for d in items]
        sub = store.get_subscription(sid)
        try:
            if sub is None:
                raise DeliveryError("订阅已删除 (the subscription was removed)")
            channels(sub.channel_type).send(sub, sorted(items, key=lambda d: d.rank), ctx)
        except DeliveryError as exc:
            status = store.mark_failed(ids, str(exc), max_attempts=settings.push_max_attempts,
                                       backoff_seconds=settings.push_backoff_seconds, now=now)
            report.errors[sid] = str(exc)
            if status == "dead":
                report.dead += len(ids)
                log.error("push to %s is dead after %d attempts: %s", sid,
                          settings.push_max_attempts, exc)
            else:
                report.failed += len(ids)
                log.warning("push to %s failed, will retry: %s", sid, exc)
        except Exception as exc:  # a bug in one channel must not stop the other digests
            log.exception("push to %s crashed", sid)
            store.mark_failed(ids, f"{type(exc).__name__}: {exc}",
                              max_attempts=settings.push_max_attempts,
                              backoff_seconds=settings.push_backoff_seconds, now=now)
            report.failed += len(ids)
            report.errors[sid] = f"{type(exc).__name__}: {exc}"
        else:
            store.mark_sent(ids, now=now)
            report.sent += len(ids)
    return report


def push_now(store: PushStore, settings: Any, ranker: Any, build_id: str, *,
             make_filters: Callable[..., Any], demand_text: Callable[[str], str | None],
             dry_run: bool = False, due_only: bool = True, now: _dt.datetime | None = None,
             channels: Callable[[str], Channel] = channel_for) -> PushReport:
    now = now or now_utc()
    digests = run_digests(store, ranker, build_id, make_filters=make_filters,
                          demand_text=demand_text, dry_run=dry_run, due_only=due_only, now=now)
    send = None if dry_run else send_pending(store, settings, now=now, channels=channels)
    return PushReport(build_id, digests, send)


def push_for_engine(store: PushStore, settings: Any, engine: Any, *, dry_run: bool = False,
                    due_only: bool = True) -> PushReport | None:
    """One push run over an API engine's served bundle (None when nothing is served)."""
    snap = engine.current
    if snap is None:
        return None
    if not store.list_subscriptions(status="active"):
        return PushReport(snap.build_id, [], None)

    def demand_text(demand_id: str) -> str | None:
        rec = engine.store.get_demand(demand_id)
        return rec.query_text if rec is not None and rec.status != "deleted" else None

    report = push_now(store, settings, _Gated(snap.ranker, engine.ranking), snap.build_id,
                      make_filters=engine.make_filters, demand_text=demand_text,
                      dry_run=dry_run, due_only=due_only)
    log.info("push after %s: %s", snap.build_id, report.summary())
    return report


class _Gated:
    """The served ranker, taking one of the engine's ranking slots per query: a background
    push of many digests queues with the requests instead of crowding them out."""

    def __init__(self, ranker: Any, slots: Any) -> None:
        self._ranker, self._slots = ranker, slots
        self.config = getattr(ranker, "config", None)

    def match_demand(self, demand_id: str, **kw: Any) -> Any:
        with self._slots:
            return self._ranker.match_demand(demand_id, **kw)

    def match_text(self, text: str, **kw: Any) -> Any:
        with self._slots:
            return self._ranker.match_text(text, **kw)


def spawn_push(settings: Any, *, reason: str) -> int | None:
    """Start ``patmatch push`` detached (its output in ``<home>/logs/push.log``); the
    caller does not wait. Returns the pid, or None when it could not start."""
    logs = Path(settings.logs_dir)
    try:
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / "push.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "push",
                                 "--quiet"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ})
        out.close()
    except OSError as exc:
        log.warning("could not start the push after %s: %s (run `patmatch push`)", reason, exc)
        return None
    return proc.pid


class PushWorker:
    """Runs pushes on one background thread of the API, one run at a time; a kick while a
    run is going schedules exactly one more run after it."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def kick_on_swap(self, _snapshot: Any) -> None:
        """An engine swap listener: push for the bundle just swapped in."""
        self.kick()

    def kick(self) -> None:
        with self._lock:
            self._pending = True
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="patmatch-push",
                                                daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._idle.set()
                    self._thread = None
                    return
                self._pending = False
            try:
                self._run()
            except Exception:  # logged; the API keeps serving, `patmatch push` can redo it
                log.exception("background push failed")

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)


__all__ = ["PushReport", "PushWorker", "SendReport", "digest_context", "push_for_engine",
           "push_now", "send_pending", "spawn_push"]
