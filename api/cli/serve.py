"""``patmatch serve``: the HTTP API (``patmatch keys`` is in ``api/cli/keys.py``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.common import cli_errors


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (each loads the "
                                                     "bundle and follows publishes)")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when installed, "
                                           "else h11), httptools, h11")] = "auto",
    loop: Annotated[str, typer.Option(help="event loop: auto (uvloop when installed), "
                                           "uvloop, asyncio")] = "auto",
) -> None:
    """Serve the HTTP API (docs at /docs, OpenAPI at /openapi.json)."""
    import uvicorn

    from patmatch.errors import InputError

    if http not in ("auto", "httptools", "h11") or loop not in ("auto", "uvloop", "asyncio"):
        raise InputError(f"expected --http auto|httptools|h11 and --loop auto|uvloop|asyncio; "
                         f"got --http {http} --loop {loop}")
    typer.echo(f"patmatch API on http://{host}:{port} ({workers} worker(s)); "
               "create a key first: patmatch keys create NAME --role operator", err=True)
    opts = dict(factory=True, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_graceful_shutdown=30, http=http, loop=loop)
    if workers <= 1:
        uvicorn.run("api.main:create_app", **opts)
        return
    _run_workers(uvicorn.Config("api.main:create_app", workers=workers, **opts))


def _run_workers(config: "uvicorn.Config") -> None:  # noqa: F821 - lazy import
    """uvicorn's multi-worker supervisor, with one listening socket PER WORKER
    (``SO_REUSEPORT``), each created with ``proto=IPPROTO_TCP``.

    - One shared socket lets the worker that wakes first accept every pending connection:
      keep-alive clients then stick to it and the other worker idles (measured: 10
      connections, CPU split 1.89 s / 0.01 s, half the throughput). With a socket per
      worker the kernel spreads connections over the workers by hash.
    - uvicorn binds ``socket.socket(family)`` (proto 0), and asyncio only sets TCP_NODELAY
      on sockets whose proto is IPPROTO_TCP: without it Nagle + delayed ACK add ~40 ms to
      every response (benchmarks/results/2026-11-24-vm.md).

    Where ``SO_REUSEPORT`` does not balance (not Linux), one shared socket as before.
    """
    import socket
    import sys

    n = max(1, int(config.workers or 1))
    # Linux balances SO_REUSEPORT sockets by connection hash; BSD/macOS hand every
    # connection to one of them, so elsewhere all workers share one socket
    reuse = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")
    first = _listening_socket(config.host, config.port, reuse)
    port = first.getsockname()[1]  # the same port for all, also when asked for port 0
    socks = [first] + [_listening_socket(config.host, port, True)
                       for _ in range(n - 1 if reuse else 0)]
    try:
        _supervisor()(config, socks).run()
    except KeyboardInterrupt:
        pass


def _listening_socket(host: str, port: int, reuse_port: bool) -> "socket.socket":  # noqa: F821
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _supervisor() -> type:
    """uvicorn's ``Multiprocess`` giving worker ``i`` the socket ``i`` (all of them when
    there is a single shared socket); it keeps uvicorn's health checks and restarts."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import Process, logger

    class PerWorkerSockets(Multiprocess):
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            super().__init__(config, sockets=sockets[:1])
            self.worker_sockets = sockets

        def _new(self, idx: int) -> Any:
            socks = self.worker_sockets
            return Process(self.config, [socks[idx % len(socks)]])

        def init_processes(self) -> None:
            for idx in range(self.processes_num):
                process = self._new(idx)
                process.start()
                self.processes.append(process)

        def restart_all(self) -> None:
            for idx, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self._new(idx)
                new.start()
                if not new.wait_until_ready(self.config.timeout_worker_healthcheck,
                                            self.should_exit):
                    new.kill()
                    new.join()
                    return
                old.terminate()
                old.join()
                self.processes[idx] = new

        def keep_subprocess_alive(self) -> None:
            if self.should_exit.is_set():
                return
            for idx, process in enumerate(self.processes):
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                    self.should_exit.set()
                    return
                if self.should_exit.is_set():
                    return
                logger.info(f"Child process [{process.pid}] died")
                self._renew_socket(idx)
                self.processes[idx] = self._new(idx)
                self.processes[idx].start()

        def _renew_socket(self, idx: int) -> None:
            """Close a dead worker's listening socket HERE, at once, and bind a fresh one.

            Kept open in this process, the dead socket stays in the port's SO_REUSEPORT
            group: the kernel goes on hashing new connections to it and they wait in its
            backlog until the replacement has loaded the bundle and accepts (measured:
            requests hung ~28 s, until the replacement was up; benchmarks/worker_restart.py,
            results in benchmarks/results/worker_restart.md). Closed, it leaves the group: new
            connections go to the live workers and the few already queued on it are reset
            (a client retries at once) instead of hanging. The fresh socket is bound but
            not listening, so it joins the group only when the replacement is ready."""
            socks = self.worker_sockets
            if len(socks) < 2:  # one shared socket: the live workers accept from it
                return
            i = idx % len(socks)
            old = socks[i]
            host, port = old.getsockname()[:2]
            old.close()
            socks[i] = _listening_socket(host, port, True)

        def handle_ttin(self) -> None:  # the sockets are fixed at start: one per worker
            logger.info("Received SIGTTIN: the worker count is fixed (restart to change it)")

        def handle_ttou(self) -> None:
            logger.info("Received SIGTTOU: the worker count is fixed (restart to change it)")

    return PerWorkerSockets
