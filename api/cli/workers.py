"""The supervisor of ``patmatch serve --workers N``: one listening socket per worker and a
hot standby worker that takes over a dead worker's socket at once.

- One listening socket PER WORKER (``SO_REUSEPORT``), each created with
  ``proto=IPPROTO_TCP``. One shared socket lets the worker that wakes first accept every
  pending connection: keep-alive clients then stick to it and the other worker idles
  (measured: 10 connections, CPU split 1.89 s / 0.01 s, half the throughput). With a socket
  per worker the kernel spreads connections over the workers by hash. uvicorn binds
  ``socket.socket(family)`` (proto 0), and asyncio only sets TCP_NODELAY on sockets whose
  proto is IPPROTO_TCP: without it Nagle + delayed ACK add ~40 ms to every response
  (benchmarks/results/2026-11-24-vm.md). Where ``SO_REUSEPORT`` does not balance (not
  Linux), one shared socket.
- A hot STANDBY: one extra worker process that has imported the app and loaded the
  bundle (its lifespan ran: it follows publishes like the others) but listens on nothing.
  When a worker dies the supervisor, woken by the process sentinel, hands the dead
  worker's listening socket to the standby (``SCM_RIGHTS`` over a pipe), which serves it
  within milliseconds: the connections the kernel queued on that socket are answered, not
  reset, and no request waits for a cold start (imports + bundle load, 5-30 s on a busy
  machine; benchmarks/results/worker_restart.md). A new standby is then started.
  A standby that is still loading when a worker dies gets a fresh, not yet listening
  socket instead (the dead one is closed: its queued connections are reset and retried on
  the live workers) and listens when loaded, like a cold replacement.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import sys
import time
from multiprocessing import Pipe
from multiprocessing.connection import wait as wait_any
from multiprocessing.reduction import recv_handle, send_handle
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.server import Server
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process, logger

LOADED = b"loaded"


def reuse_port_balances() -> bool:
    """Linux balances SO_REUSEPORT sockets by connection hash; BSD/macOS hand every
    connection to one of them, so elsewhere all workers share one socket."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound TCP socket (proto IPPROTO_TCP), not yet listening: the worker that gets it
    listens when its app has started, so it joins the port's group only when ready."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_workers(config: Config, *, standby: bool = True) -> None:
    """Serve ``config`` with ``config.workers`` processes (and a standby if asked)."""
    n = max(1, int(config.workers or 1))
    reuse = reuse_port_balances()
    first = listening_socket(config.host, config.port, reuse)
    port = first.getsockname()[1]  # the same port for all, also when asked for port 0
    socks = [first] + [listening_socket(config.host, port, True)
                       for _ in range(n - 1 if reuse else 0)]
    try:
        Supervisor(config, socks, standby=standby).run()
    except KeyboardInterrupt:
        pass


def ended(process: Process) -> bool:
    """Whether the worker process has ended. Its sentinel says so as soon as the kernel
    has closed its descriptors, before it can be reaped (``is_alive()`` is still True
    then, and a health-check ping would wait its whole timeout)."""
    return bool(wait_any([process.process.sentinel], timeout=0))


class Worker(Process):
    """uvicorn's worker process whose health check also returns when the process ends
    (uvicorn's waits the whole timeout, 5 s, for a worker killed during the ping)."""

    def is_alive(self, timeout: float = 5) -> bool:
        if ended(self):
            return False
        try:
            self.parent_conn.send(b"ping")
            if self.parent_conn not in wait_any([self.parent_conn, self.process.sentinel],
                                                timeout):
                return False
            self.parent_conn.recv()
            return True
        except (OSError, EOFError, pickle.UnpicklingError):
            return False


class StandbyServer(Server):
    """A uvicorn server that starts the app (lifespan) at once, then waits for the
    supervisor to hand it a listening socket; asked to stop before that, it stops without
    ever having listened."""

    def __init__(self, config: Config, handoff: Any) -> None:
        super().__init__(config)
        self.handoff = handoff

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        self.handoff.send(LOADED)
        logger.info("Standby [%d] loaded, standing by", os.getpid())
        sock = await self._handed_socket()
        if sock is None:  # stopped while standing by: nothing to drain
            await self.lifespan.shutdown()
            return

        async def started() -> None:  # the lifespan ran above
            return None

        self.lifespan.startup = started  # type: ignore[method-assign]
        logger.info("Standby [%d] serving", os.getpid())
        await super().startup([sock])

    async def _handed_socket(self) -> socket.socket | None:
        loop = asyncio.get_running_loop()
        while not self.should_exit:
            if not await loop.run_in_executor(None, self.handoff.poll, 0.2):
                continue
            try:
                return socket.socket(fileno=recv_handle(self.handoff))
            except (EOFError, OSError, RuntimeError):  # the supervisor is gone
                return None
        return None


class StandbyProcess(Worker):
    """uvicorn's worker process running a :class:`StandbyServer`, with a second pipe for
    the hand-over (the first one carries uvicorn's health-check pings)."""

    def __init__(self, config: Config) -> None:
        self.handoff, self.child_handoff = Pipe()
        self.loaded = False
        super().__init__(config, [])

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = StandbyServer(self.config, self.child_handoff)
        return self._server

    def poll_loaded(self) -> bool:
        """Whether the standby has started its app (non-blocking)."""
        try:
            while not self.loaded and self.handoff.poll():
                self.loaded = self.handoff.recv() == LOADED
        except (EOFError, OSError):
            pass
        return self.loaded

    def hand_over(self, sock: socket.socket) -> None:
        """Give the standby ``sock`` to serve (it keeps its own copy of the descriptor)."""
        send_handle(self.handoff, sock.fileno(), self.pid)

    def terminate(self) -> None:
        super().terminate()
        self.handoff.close()
        self.child_handoff.close()

    def kill(self) -> None:
        super().kill()
        self.handoff.close()
        self.child_handoff.close()


class Supervisor(Multiprocess):
    """uvicorn's ``Multiprocess`` giving worker ``i`` the socket ``i`` (all of them when
    there is one shared socket), noticing a death at once (process sentinels, not the 0.5 s
    poll alone), and keeping a standby; it keeps uvicorn's health checks and signals.

    The next standby starts ``standby_delay`` seconds after one took over: its start-up
    (imports, bundle: several CPU-seconds) would otherwise compete with the workers just
    when they absorb the dead worker's clients (measured: answers fell from ~200/s to ~40/s
    for a second or two on 2 cores). A second death within that time gets a cold start."""

    standby_delay = 30.0
    startup_timeout = 300.0  # how long a SIGHUP restart waits for each new worker

    def __init__(self, config: Config, sockets: list[socket.socket], *,
                 standby: bool = True) -> None:
        super().__init__(config, sockets=sockets[:1])
        self.worker_sockets = sockets
        self.use_standby = standby
        self.standby: StandbyProcess | None = None
        self.standby_due = 0.0  # time.monotonic() from which a new standby may start

    def _new(self, idx: int) -> Process:
        socks = self.worker_sockets
        return Worker(self.config, [socks[idx % len(socks)]])

    def init_processes(self) -> None:
        for idx in range(self.processes_num):
            process = self._new(idx)
            process.start()
            self.processes.append(process)

    def run(self) -> None:
        logger.info(f"Started parent process [{os.getpid()}]")
        self.init_processes()
        while not self.should_exit.is_set():
            live = [p.process.sentinel for p in self.processes]
            if self.standby is not None:
                live.append(self.standby.process.sentinel)
            wait_any(live, timeout=0.5)  # returns at once when a process ends
            self.handle_signals()
            self.keep_subprocess_alive()
        self.terminate_all()
        self.join_all()
        logger.info(f"Stopping parent process [{os.getpid()}]")

    def terminate_all(self) -> None:
        super().terminate_all()
        if self.standby is not None:
            self.standby.terminate()

    def join_all(self) -> None:
        super().join_all()
        if self.standby is not None:
            self.standby.join()

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        # the dead first, without a health-check round trip to the live ones before them
        for hung_check in (False, True):
            for idx, process in enumerate(self.processes):
                if hung_check:
                    if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                        continue
                elif not ended(process):
                    continue
                process.kill()  # hung, or dead already
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                    self.should_exit.set()
                    return
                if self.should_exit.is_set():
                    return
                logger.info(f"Child process [{process.pid}] died")
                self.processes[idx] = self._replacement(idx)
        self._keep_standby()

    def _replacement(self, idx: int) -> Process:
        """The standby, handed the dead worker's socket; without one, a cold start."""
        standby, self.standby = self.standby, None
        if standby is not None and not ended(standby):
            loaded = standby.poll_loaded()
            if not loaded:  # its queue would wait for the whole load: reset it now
                self._renew_socket(idx)
            try:
                standby.hand_over(self.worker_sockets[idx % len(self.worker_sockets)])
            except OSError as exc:
                logger.warning(f"Standby [{standby.pid}] could not take over: {exc}")
            else:
                logger.info(f"Standby [{standby.pid}] takes over worker {idx}"
                            + ("" if loaded else " (still loading)"))
                self.standby_due = time.monotonic() + self.standby_delay
                return standby
        if standby is not None:  # dead, or it could not take the socket
            standby.kill()
            standby.join()
        self._renew_socket(idx)
        process = self._new(idx)
        process.start()
        return process

    def _keep_standby(self) -> None:
        if not self.use_standby or self.should_exit.is_set():
            return
        standby = self.standby
        if standby is not None:
            if standby.is_alive(timeout=self.config.timeout_worker_healthcheck):
                return
            standby.kill()
            standby.join()
            self.standby = None
            if standby.exitcode == STARTUP_FAILURE:
                logger.error(f"Standby [{standby.pid}] failed to start; no standby from now on")
                self.use_standby = False
                return
            logger.info(f"Standby [{standby.pid}] died")
        # start it once every worker serves: it must not slow the workers' own start
        timeout = self.config.timeout_worker_healthcheck
        if time.monotonic() < self.standby_due:
            return
        if all(p.is_ready(timeout=timeout) for p in self.processes):
            self.standby = StandbyProcess(self.config)
            self.standby.start()

    def _renew_socket(self, idx: int) -> None:
        """Close a dead worker's listening socket HERE, at once, and bind a fresh one.

        Kept open in this process with nobody accepting, the dead socket stays in the
        port's SO_REUSEPORT group: the kernel goes on hashing new connections to it and they
        wait in its backlog until a cold replacement has loaded the bundle (measured: ~28 s;
        benchmarks/results/worker_restart.md). Closed, it leaves the group: new connections
        go to the live workers and the few already queued on it are reset (a client retries
        at once). The fresh socket is bound but not listening, so it joins the group only
        when its worker is ready."""
        socks = self.worker_sockets
        if len(socks) < 2:  # one shared socket: the live workers accept from it
            return
        i = idx % len(socks)
        old = socks[i]
        host, port = old.getsockname()[:2]
        old.close()
        socks[i] = listening_socket(host, port, True)

    def restart_all(self) -> None:  # SIGHUP: new code for every worker, and the standby
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._new(idx)
            new.start()
            # a worker needs 5-30 s to load (uvicorn waits timeout_worker_healthcheck, 5 s,
            # so a SIGHUP restart always gave up on a loaded machine)
            if not new.wait_until_ready(self.startup_timeout, self.should_exit):
                new.kill()
                new.join()
                logger.error(f"New child process [{new.pid}] was not ready in "
                             f"{self.startup_timeout:.0f} s; keeping [{old.pid}], restart stopped")
                return
            old.terminate()
            old.join()
            self.processes[idx] = new
        if self.standby is not None:
            self.standby.terminate()
            self.standby.join()
            self.standby = None  # the next tick starts a new one

    def handle_ttin(self) -> None:  # the sockets are fixed at start: one per worker
        logger.info("Received SIGTTIN: the worker count is fixed (restart to change it)")

    def handle_ttou(self) -> None:
        logger.info("Received SIGTTOU: the worker count is fixed (restart to change it)")
