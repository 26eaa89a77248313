"""The load benchmark's client (benchmarks/load_client.py) against a real uvicorn server on
127.0.0.1 serving the test app: distinct queries, keep-alive raw HTTP/1.1, error counts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import load_client as load_api


def test_distinct_queries_without_a_home() -> None:
    qs = load_api.distinct_queries(1200)
    assert len(qs) == 1200 and len(set(qs)) == 1200
    assert qs == load_api.distinct_queries(1200)  # deterministic


def test_distinct_queries_from_a_store(settings: Any) -> None:
    from indexing.records import DemandRecord
    from indexing.store.record_store import open_store

    store = open_store(settings)
    try:
        store.upsert_demands([DemandRecord(id=f"D{i}", text=f"需求{i}：提升锂电池低温性能第{i}项",
                                           title=f"标题{i}") for i in range(30)])
    finally:
        store.close()
    qs = load_api.distinct_queries(20, settings.home)
    assert len(set(qs)) == 20 and all(q.startswith("标题") for q in qs)


def test_build_id_is_read_without_parsing_the_body() -> None:
    assert load_api._build_of(b'{"build_id":"20261124T1-ab","items":[]}') == "20261124T1-ab"
    assert load_api._build_of(b'{"items":[]}') == "?"


@pytest.fixture()
def server(app: Any) -> Iterator[str]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        access_log=False))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(timeout=20)


@pytest.mark.parametrize("client", ["raw", "httpx"])
def test_level_counts_answers_and_errors(server: str, keys: dict[str, str], client: str) -> None:
    queries = load_api.distinct_queries(30)
    res = asyncio.run(load_api.run_level(server, keys["analyst"], 4, 30, queries, 5, client))
    assert res["ok"] == 30 and res["errors"] == 0, res
    assert res["builds_seen"] == {"build-001": 30}
    assert res["p50_ms"] > 0 and res["client_cpu_ms_per_req"] > 0
    bad = asyncio.run(load_api.run_level(server, "pm_nope_x", 2, 6, queries, 5, client))
    assert bad["ok"] == 0 and bad["error_kinds"] == {"401": 6}
