"""`patmatch serve --workers N` (api/cli/workers.py): one listening socket per worker
(SO_REUSEPORT), each with proto TCP, and a hot standby that takes over a dead worker's
socket.

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
    from api.cli import workers

    seen: list[socket.socket] = []

    class Capturing:  # stands in for the supervisor: no processes, no signal handlers
        def __init__(self, config: Any, sockets: list[socket.socket], **kw: Any) -> None:
            seen.extend(sockets)

        def run(self) -> None:
            return None

    monkeypatch.setattr(workers, "Supervisor", Capturing)
    return seen


def test_one_tcp_socket_per_worker_on_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from api.cli import workers

    seen = _capture(monkeypatch)
    config = uvicorn.Config("api.main:create_app", factory=True, host="127.0.0.1", port=0,
                            workers=3)
    workers.run_workers(config)
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
    from api.cli import workers

    captured: list[list[socket.socket]] = []

    class FakeProcess:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            captured.append(sockets)

    monkeypatch.setattr(workers, "Worker", FakeProcess)
    sup_cls = workers.Supervisor
    config = type("C", (), {"workers": 2})()
    socks = ["s0", "s1"]
    sup = sup_cls.__new__(sup_cls)
    sup.config, sup.worker_sockets = config, socks
    sup._new(0), sup._new(1), sup._new(3)
    assert captured == [["s0"], ["s1"], ["s1"]]


def test_dead_worker_socket_is_replaced_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a worker's death the supervisor closes its listening socket (the kernel stops
    queueing connections on it) and gives the replacement a fresh one on the same port."""
    from api.cli import workers

    if not workers.reuse_port_balances():
        pytest.skip("one shared socket off Linux")
    socks = [workers.listening_socket("127.0.0.1", 0, True)]
    port = socks[0].getsockname()[1]
    socks.append(workers.listening_socket("127.0.0.1", port, True))
    for s in socks:
        s.listen(8)
    sup = workers.Supervisor.__new__(workers.Supervisor)
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


async def tiny_app(scope: dict, receive: Any, send: Any) -> None:
    """An ASGI app for a real standby process: answers its pid."""
    import os

    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _wait(cond: Any, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_standby_serves_connections_queued_on_a_handed_socket() -> None:
    """A real standby process loads the app, answers health checks, listens on nothing;
    handed a listening socket it answers the connection already queued on it (a dead
    worker's backlog is served, not reset)."""
    import uvicorn

    from api.cli import workers

    config = uvicorn.Config("tests.api.test_serve_workers:tiny_app", host="127.0.0.1",
                            port=0, log_level="warning", lifespan="on", loop="asyncio")
    standby = workers.StandbyProcess(config)
    standby.start()
    sock = workers.listening_socket("127.0.0.1", 0, False)
    sock.listen(16)
    try:
        assert _wait(standby.poll_loaded, 60), "the standby never reported its app started"
        assert standby.is_alive(timeout=10)  # health checks answered while standing by
        client = socket.create_connection(sock.getsockname(), timeout=30)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):  # queued: nobody serves the socket yet
            client.recv(1)
        client.settimeout(30)
        standby.hand_over(sock)
        answer = b""
        while not answer.endswith(str(standby.pid).encode()):
            chunk = client.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        client.close()
    finally:
        standby.terminate()
        standby.process.join(timeout=30)
        sock.close()
    assert standby.process.exitcode is not None


class _FakeStandby:
    """Stands in for a StandbyProcess in the supervisor's bookkeeping."""

    def __init__(self, loaded: bool) -> None:
        import os
        import types

        self.loaded, self.handed, self.pid = loaded, [], 1
        self.pipe = os.pipe()  # a sentinel that stays silent: the process runs
        self.process = types.SimpleNamespace(sentinel=self.pipe[0])

    def poll_loaded(self) -> bool:
        return self.loaded

    def hand_over(self, sock: socket.socket) -> None:
        self.handed.append(sock)


@pytest.mark.parametrize("loaded", [True, False])
def test_dead_worker_socket_goes_to_the_standby(loaded: bool) -> None:
    """A loaded standby gets the dead worker's own socket (its queue is kept and served);
    one still loading gets a fresh, not listening socket (the dead one is closed so its
    queue does not wait for the load)."""
    import os

    from api.cli import workers

    if not workers.reuse_port_balances():
        pytest.skip("one shared socket off Linux")
    socks = [workers.listening_socket("127.0.0.1", 0, True)]
    port = socks[0].getsockname()[1]
    socks.append(workers.listening_socket("127.0.0.1", port, True))
    for s in socks:
        s.listen(8)
    sup = workers.Supervisor.__new__(workers.Supervisor)
    sup.worker_sockets = list(socks)
    standby = _FakeStandby(loaded)
    sup.standby = standby
    try:
        assert sup._replacement(1) is standby and sup.standby is None
        assert standby.handed == [sup.worker_sockets[1]]
        if loaded:
            assert sup.worker_sockets[1] is socks[1] and socks[1].fileno() != -1
        else:
            assert socks[1].fileno() == -1 and sup.worker_sockets[1] is not socks[1]
            assert sup.worker_sockets[1].getsockname()[1] == port
    finally:
        for s in sup.worker_sockets + socks:
            s.close()
        for fd in standby.pipe:
            os.close(fd)


def test_next_standby_waits_after_a_takeover() -> None:
    """After a takeover the next standby starts only ``standby_delay`` later (its start-up
    would compete for CPU with the workers absorbing the dead worker's clients)."""
    import threading
    import time

    from api.cli import workers

    sup = workers.Supervisor.__new__(workers.Supervisor)
    sup.use_standby, sup.standby, sup.processes = True, None, []
    sup.should_exit = threading.Event()
    sup.config = type("C", (), {"timeout_worker_healthcheck": 1})()
    sup.standby_due = time.monotonic() + 60
    sup._keep_standby()
    assert sup.standby is None


@pytest.mark.slow
def test_no_request_is_lost_when_a_worker_is_killed_under_load(tmp_path) -> None:
    """Real `patmatch serve --workers 2` (with its standby) under 20 concurrent keep-alive
    clients: kill -9 of a serving worker; every request is answered 200 (a reset one is
    retried, as HTTP clients do), requests keep being answered after the kill, and the
    standby takes the dead worker's place. Bounded by a generous per-request limit; the
    stall itself is measured by benchmarks/worker_restart.py, not asserted here."""
    from benchmarks.worker_restart import make_tiny_home, run

    home = tmp_path / "home"
    home.mkdir()
    make_tiny_home(home)
    res = run(home, clients=20, seconds=8, kill_after=3, timeout=60)
    assert res["unanswered"] == 0, res
    assert set(res["statuses"]) == {200}, res["statuses"]
    assert res["requests_after_kill"] >= 20, res
    assert res["kill"].get("replacement_was_standby") is True, res["kill"]
    assert res["server_alive_at_end"]


@pytest.mark.slow
def test_sighup_replaces_every_worker_and_the_standby(tmp_path) -> None:
    """SIGHUP to `patmatch serve --workers 2`: new workers (each waited for, however long
    it loads) replace the old ones one by one, then a new standby; the API answers."""
    import os
    import signal
    import time

    import httpx

    from benchmarks.worker_restart import (free_port, make_tiny_home, serving_pids,
                                           spawn_server, wait_listening, wait_ready,
                                           wait_standby)

    home = tmp_path / "home"
    home.mkdir()
    make_tiny_home(home)
    port = free_port()
    proc = spawn_server(home, 2, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, timeout=180)
        old = set(wait_listening(proc.pid, 2, timeout=180))
        old_standby = wait_standby(proc.pid, home, timeout=180)
        os.kill(proc.pid, signal.SIGHUP)
        assert _wait(lambda: (len(serving_pids(proc.pid)) == 2
                              and not set(serving_pids(proc.pid)) & old), 300)
        assert wait_standby(proc.pid, home, timeout=180) != old_standby
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            proc.kill()


@pytest.mark.parametrize("flags", [["--loop", "bogus"], ["--http", "h3"]])
def test_serve_refuses_an_unknown_loop_or_http_before_starting(flags: list[str]) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    res = CliRunner().invoke(app, ["serve", "--port", "0", *flags])
    assert res.exit_code == 2, res.output
    assert "expected --http auto|httptools|h11 and --loop auto|uvloop|asyncio" in res.output
    assert "patmatch API on" not in res.output  # refused before anything started
