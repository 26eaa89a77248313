"""Hot reload: the watcher follows the pointer; a swap under load fails no request."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import hdr, make_engine


def _wait_for(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return False


def test_watcher_follows_the_pointer(settings):
    engine = make_engine(settings)
    app = create_app(settings, engine=engine, reload_interval=0.05)
    with TestClient(app) as c:
        assert c.get("/readyz").json()["build_id"] == "build-001"
        engine.publish_build("build-002")  # what `patmatch publish` does from another process
        assert _wait_for(lambda: c.get("/readyz").json()["build_id"] == "build-002")


def test_in_flight_request_finishes_on_the_old_bundle(settings):
    engine = make_engine(settings, query_delay=0.4)
    app = create_app(settings, engine=engine, reload_interval=0)
    with TestClient(app) as c:
        key, _ = app.state.keys.create("op", "operator")
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(c.post, "/v1/match", json={"text": "电池"}, headers=hdr(key))
            assert _wait_for(lambda: engine.current.ranker.calls)  # the query has started
            engine.publish_build("build-002")
            assert engine.refresh()
            r = slow.result(timeout=10)
        assert r.status_code == 200 and r.json()["build_id"] == "build-001"
        assert c.post("/v1/match", json={"text": "电池"},
                      headers=hdr(key)).json()["build_id"] == "build-002"


class _Server:
    """uvicorn on 127.0.0.1 in a thread, on a free port."""

    def __init__(self, app):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        assert _wait_for(lambda: self.server.started)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_swap_under_load_fails_no_request(settings):
    # slow loads make the swap window wide; small query delays keep requests overlapping it
    engine = make_engine(settings, load_delay=0.3, query_delay=0.003)
    app = create_app(settings, engine=engine, reload_interval=0.05)
    op, _ = app.state.keys.create("op", "operator")
    centre, _ = app.state.keys.create("c", "centre", centre="cz-nev", chains=("nev",))
    stop = threading.Event()
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client_loop(base: str, key: str, n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for i in range(n):  # bounded: n requests at most
                if stop.is_set() and i > 20:
                    break
                try:
                    r = http.post("/v1/match", json={"text": "电池 电机 散热"},
                                  headers=hdr(key))
                    bid = r.json().get("build_id") if r.status_code == 200 else None
                    code = r.status_code
                except httpx.HTTPError as exc:
                    code, bid = -1, repr(exc)
                with lock:
                    results.append((code, bid))

    with _Server(app) as base, httpx.Client(base_url=base, timeout=30) as admin:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client_loop, base, op if i % 2 else centre, 400)
                       for i in range(8)]
            time.sleep(0.2)
            r = admin.post("/v1/admin/publish", json={"build_id": "build-002"}, headers=hdr(op))
            assert r.status_code == 200 and r.json()["serving"] == "build-002"
            engine.publish_build("build-003")  # an out-of-band publish; the watcher swaps
            assert _wait_for(lambda: engine.current.build_id == "build-003")
            time.sleep(0.2)
            stop.set()
            for f in futures:
                f.result(timeout=60)
    failed = [r for r in results if r[0] != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    seen = {bid for _, bid in results}
    assert {"build-001", "build-003"} <= seen, seen
    assert len(results) >= 160
