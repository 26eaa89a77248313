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
