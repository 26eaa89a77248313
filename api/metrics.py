"""Prometheus metrics (text exposition format) via prometheus-client.

Each app gets its own ``CollectorRegistry`` so several apps in one process (tests) do not
collide. Routes are labelled by their template (``/v1/demands/{demand_id}``), never the
raw path, to keep label cardinality bounded. With several uvicorn workers each worker
exposes its own counters; scrape them through the load balancer per worker or run one
worker per port (documented in docs/api.md).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("patmatch_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("patmatch_http_request_duration_seconds",
                                 "HTTP request latency", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("patmatch_http_requests_in_flight", "Requests being served",
                               registry=self.registry)
        self.bundle = Gauge("patmatch_bundle_info", "The index bundle being served (value 1)",
                            ["build_id"], registry=self.registry)
        self.bundle_loaded = Gauge("patmatch_bundle_loaded_timestamp_seconds",
                                   "When the current bundle was loaded",
                                   registry=self.registry)
        self.reloads = Counter("patmatch_bundle_reloads", "Bundle switches", ["result"],
                               registry=self.registry)
        self.jobs = Counter("patmatch_jobs", "Batch jobs finished", ["status"],
                            registry=self.registry)
        self._build_id: str | None = None

    def set_bundle(self, build_id: str | None) -> None:
        if self._build_id is not None:
            self.bundle.remove(self._build_id)
        if build_id is not None:
            self.bundle.labels(build_id=build_id).set(1)
            self.bundle_loaded.set(time.time())
        self._build_id = build_id

    def set_bundle_from(self, snapshot: Any) -> None:
        self.set_bundle(snapshot.build_id)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
