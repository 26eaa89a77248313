"""The FastAPI app factory.

``create_app()`` wires settings, the API's tables on the one database (keys, audit, jobs;
``api.db``), metrics and the engine; ``lifespan`` loads the published bundle and starts the reload watcher. Tests
pass ``engine=`` (a fake) and get the same app otherwise. Run with ``patmatch serve`` or
``uvicorn --factory api.main:create_app``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patmatch.errors import NoBundleError
from patmatch.settings import Settings, get_settings

from api.audit import AuditLog
from api.db import open_api_db
from api.deps import reject_repeated_scalars
from api.errors import PayloadTooLargeError, error_body, install_error_handlers
from api.jobs import JobManager
from api.metrics import Metrics, MetricsMiddleware
from api.push.dispatcher import PushWorker, push_for_engine
from api.push.store import open_push_store
from api.reload import BundleWatcher, check_now
from api.routers import (admin, chains, demands, feedback, health, jobs, match, patents,
                         reports, subscriptions)
from api.security import KeyStore
from api.throttle import AuthThrottle
from api.ui import install_ui
from api.services.contracts import ServingEngine

log = logging.getLogger("patmatch.api")

MAX_JSON_BYTES = 1 * 1024 * 1024  # JSON bodies; uploads get settings.api_max_body_bytes

DESCRIPTION = """
专利供需匹配服务 — patent supply-demand matching for operation centres.

Every call except `/healthz` and `/readyz` needs an API key (`X-API-Key: <key>` or
`Authorization: Bearer <key>`). Every error has one JSON shape: `{code, message, details}`.
Ids a key may not see answer 404, exactly like ids that do not exist. Scores are fused
rank scores, comparable within one list only: never read them as a similarity percentage.
"""


class BodyLimitMiddleware:
    """413 for bodies over the limit: from Content-Length at once, else while streaming."""

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.upload_limit if multipart else self.json_limit
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _reject(send, limit, int(length))
            return
        seen = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    # the framework turns this into its own 400; send_or_413 replaces it
                    raise PayloadTooLargeError(f"request body over the limit of {limit} bytes")
            return message

        replaced = False

        async def send_or_413(message: Message) -> None:
            nonlocal replaced
            if not exceeded:
                await send(message)
            elif not replaced:
                replaced = True
                await _reject(send, limit, seen)

        await self.app(scope, limited_receive, send_or_413)


async def _reject(send: Send, limit: int, length: int) -> None:
    import json

    body = json.dumps(error_body(
        "input.too_large", f"request body is over the limit of {limit} bytes",
        {"limit": limit, "length": length}), ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, *, engine: ServingEngine | None = None,
               reload_interval: float | None = None) -> FastAPI:
    settings = settings or get_settings()
    if engine is None:
        from api.live import LiveEngine

        engine = LiveEngine(settings)
    db = open_api_db(settings)
    metrics = Metrics()
    interval = settings.api_reload_poll_seconds if reload_interval is None else reload_interval

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if metrics.set_bundle_from not in engine.swap_listeners:  # lifespan may rerun
            engine.swap_listeners.append(metrics.set_bundle_from)
        # a new bundle: push its new matches on a background thread, never in the swap
        kick = app.state.push_worker.kick_on_swap
        if kick not in engine.swap_listeners:
            engine.swap_listeners.append(kick)
        try:
            await anyio.to_thread.run_sync(check_now, engine, metrics)
        except NoBundleError:
            log.warning("no bundle published yet: /readyz answers 503 until one is")
        except Exception as exc:  # start anyway; /readyz reports, the watcher retries
            log.error("could not load the published bundle: %s", exc)
        watcher = BundleWatcher(engine, metrics, interval)
        watcher.start()
        try:
            yield
        finally:
            await watcher.stop()
            app.state.jobs.shutdown()
            app.state.push_worker.wait_idle(timeout=30)
            engine.close()
            db.close()  # its pool only: a later lifespan of the same app reconnects

    app = FastAPI(title="patmatch", version="1", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(reject_repeated_scalars)],
                  openapi_tags=[{"name": n} for n in
                                ("match", "demands", "patents", "chains", "jobs", "admin",
                                 "subscriptions", "feedback", "reports", "health")])
    app.state.settings = settings
    app.state.engine = engine
    app.state.db = db
    app.state.keys = KeyStore(db)
    app.state.auth_throttle = AuthThrottle()
    app.state.audit = AuditLog(db)
    app.state.metrics = metrics
    app.state.jobs = JobManager(db, engine, settings.jobs_dir, metrics)
    install_error_handlers(app)
    app.state.push = open_push_store(settings)
    app.state.push_worker = PushWorker(lambda: push_for_engine(app.state.push, settings, engine))
    for r in (match.router, demands.router, patents.router, chains.router, jobs.router,
              admin.router, subscriptions.router, feedback.router, health.router,
              reports.router):
        app.include_router(r)
    install_ui(app)  # the web console: after the API, its catch-all /ui/... route last
    app.add_middleware(BodyLimitMiddleware, json_limit=MAX_JSON_BYTES,
                       upload_limit=settings.api_max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
