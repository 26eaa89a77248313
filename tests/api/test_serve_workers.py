"""`patmatch serve --workers N` must hand uvicorn a listening socket with proto TCP.

asyncio sets TCP_NODELAY only on sockets whose ``proto`` is IPPROTO_TCP; uvicorn's own
multi-worker socket has proto 0, which cost ~40 ms per response (Nagle + delayed ACK).
"""

from __future__ import annotations

import socket

import pytest


def test_multi_worker_socket_is_tcp_proto(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    import uvicorn.supervisors

    from patmatch.cli import serve

    seen: list[socket.socket] = []

    class FakeMultiprocess:
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            seen.extend(sockets)

        def run(self) -> None:
            return None

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", FakeMultiprocess)
    config = uvicorn.Config("api.main:create_app", factory=True, host="127.0.0.1", port=0,
                            workers=2)
    serve._run_workers(config)
    assert len(seen) == 1
    try:
        assert seen[0].proto == socket.IPPROTO_TCP
        assert seen[0].type == socket.SOCK_STREAM
    finally:
        seen[0].close()
