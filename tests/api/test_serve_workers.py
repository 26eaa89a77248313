"""`patmatch serve --workers N`: one listening socket per worker (SO_REUSEPORT), each with
proto TCP.

asyncio sets TCP_NODELAY only on sockets whose ``proto`` is IPPROTO_TCP; uvicorn's own
multi-worker socket has proto 0, which cost ~40 ms per response (Nagle + delayed ACK).
One socket shared by all workers lets the first worker to wake accept every pending
keep-alive connection, leaving the other idle; a socket per worker spreads them.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import pytest


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    from api.cli import serve

    seen: list[socket.socket] = []

    class Capturing:  # stands in for the supervisor: no processes, no signal handlers
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            seen.extend(sockets)

        def run(self) -> None:
            return None

    monkeypatch.setattr(serve, "_supervisor", lambda: Capturing)
    return seen


def test_one_tcp_socket_per_worker_on_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from api.cli import serve

    seen = _capture(monkeypatch)
    config = uvicorn.Config("api.main:create_app", factory=True, host="127.0.0.1", port=0,
                            workers=3)
    serve._run_workers(config)
    try:
        balanced = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")
        assert len(seen) == (3 if balanced else 1)
        assert len({s.getsockname()[1] for s in seen}) == 1  # one port, given port 0
        for s in seen:
            assert s.proto == socket.IPPROTO_TCP and s.type == socket.SOCK_STREAM
    finally:
        for s in seen:
            s.close()


def test_worker_socket_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker i gets socket i, so a restarted worker takes over its own socket."""
    from api.cli import serve

    captured: list[list[socket.socket]] = []

    class FakeProcess:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            captured.append(sockets)

    import uvicorn.supervisors.multiprocess as mp

    monkeypatch.setattr(mp, "Process", FakeProcess)
    sup_cls = serve._supervisor()
    config = type("C", (), {"workers": 2})()
    socks = ["s0", "s1"]
    sup = sup_cls.__new__(sup_cls)
    sup.config, sup.worker_sockets = config, socks
    sup._new(0), sup._new(1), sup._new(3)
    assert captured == [["s0"], ["s1"], ["s1"]]


def test_dead_worker_socket_is_replaced_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a worker's death the supervisor closes its listening socket (the kernel stops
    queueing connections on it) and gives the replacement a fresh one on the same port."""
    from api.cli import serve

    if not (hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")):
        pytest.skip("one shared socket off Linux")
    socks = [serve._listening_socket("127.0.0.1", 0, True)]
    port = socks[0].getsockname()[1]
    socks.append(serve._listening_socket("127.0.0.1", port, True))
    for s in socks:
        s.listen(8)
    sup_cls = serve._supervisor()
    sup = sup_cls.__new__(sup_cls)
    sup.worker_sockets = list(socks)
    try:
        sup._renew_socket(1)
        assert socks[1].fileno() == -1  # closed here, so the kernel forgets it
        fresh = sup.worker_sockets[1]
        assert fresh is not socks[1] and fresh.getsockname()[1] == port
        assert fresh.proto == socket.IPPROTO_TCP and fresh.get_inheritable()
        # not listening until its worker is ready: a connection goes to the live socket
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            conn, _ = socks[0].accept()
            conn.close()
    finally:
        for s in sup.worker_sockets + socks:
            s.close()


@pytest.mark.slow
def test_requests_are_answered_while_a_killed_worker_restarts(tmp_path) -> None:
    """Real `patmatch serve --workers 2`: kill -9 one worker; new connections are
    answered by the other at once, none waits for the replacement to load the bundle
    (before the fix those hashed to the dead worker's socket waited ~12 s)."""
    import os
    import signal
    import time

    import httpx

    from api.db import open_api_db
    from api.security import KeyStore
    from benchmarks.worker_restart import (free_port, make_tiny_home, spawn_server, wait_listening,
                                           wait_ready)
    from patmatch.settings import Settings

    home = tmp_path / "home"
    home.mkdir()
    make_tiny_home(home)
    key, _ = KeyStore(open_api_db(Settings(home=home))).create("t", "operator")
    port = free_port()
    proc = spawn_server(home, 2, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, timeout=120)
        before = wait_listening(proc.pid, 2, timeout=180)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        time.sleep(1.0)  # the supervisor polls every 0.5 s
        slow, answered = [], 0
        for i in range(30):  # a fresh connection each: the kernel hashes them over sockets
            t = time.monotonic()
            for _attempt in range(3):  # a reset (queued on the dead socket) is retried
                try:
                    r = httpx.post(f"{base}/v1/match", json={"text": f"锂电池低温续航{i}"},
                                   headers={"X-API-Key": key}, timeout=10)
                    break
                except httpx.TransportError:
                    continue
            else:
                raise AssertionError("no answer after 3 attempts")
            assert r.status_code == 200, r.text
            answered += 1
            if time.monotonic() - t > 1.0:
                slow.append(round(time.monotonic() - t, 2))
        assert answered == 30 and not slow, slow
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            proc.kill()
