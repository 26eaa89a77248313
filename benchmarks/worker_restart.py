"""How long requests stall when a worker of ``patmatch serve --workers 2`` is killed (-9)
under load (issue 13: bring the stall under 1 s).

    python -m benchmarks.worker_restart                  # a tiny demo home in a temp dir
    python -m benchmarks.worker_restart --home ~/.patmatch --clients 50 --seconds 20
    python -m benchmarks.worker_restart --no-standby     # serve without the hot standby

Spawns ``patmatch serve --workers 2`` on a free loopback port, waits until both workers
serve and (by default) the standby has loaded the bundle, runs ``--clients`` keep-alive
clients (one connection each, no pool: a retry never waits for another client) that POST
/v1/match in a loop, kills one serving worker with SIGKILL after ``--kill-after`` seconds
and keeps going for ``--seconds`` in all. A request whose
connection is reset (the killed worker's own connections, or ones queued on its socket)
is retried at once on a new connection, as any HTTP client with retries would; its
latency runs from the first attempt to the answer. Reports the longest request (the
stall), p50/p99, requests per second before and after the kill, the resets, the requests
that never got an answer, the slowest request that met a reset (``max_retried_ms``: the
stall a client sees) and when a replacement (the standby, or a cold start) listened.
Bounded: loopback only, a fixed duration, a per-request timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.load_client import RawClient, distinct_queries
from patmatch.atomic_io import atomic_write_json


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_server(home: Path, workers: int, port: int, *, standby: bool = True) -> subprocess.Popen:
    """``patmatch serve --workers N`` on loopback over ``home``."""
    env = {**os.environ, "PATMATCH_HOME": str(home)}
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
           "warning", "--no-access-log", "--standby" if standby else "--no-standby"]
    return subprocess.Popen(cmd, env=env)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f} s")


def make_tiny_home(home: Path) -> None:
    """A small published home: a few dozen records, a tiny encoder (no model download)."""
    from indexing.build.pipeline import build_bundle
    from indexing.build.publish import publish
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.records import DemandRecord, PatentRecord
    from indexing.store.record_store import open_store
    from indexing.text.tokenizer import ChineseTokenizer
    from indexing.training.tiny_encoder import make_tiny_encoder
    from patmatch.settings import Settings

    from benchmarks.load_client import QUERIES

    settings = Settings(home=home)
    patents = [PatentRecord(f"P-{i:03d}", f"一种{q[:12]}的方法", f"本发明公开了{q}的技术方案。",
                            ipc=("H01M10/0525",)) for i, q in enumerate(QUERIES)]
    demands = [DemandRecord(id=f"D-{i:03d}", text=q, title=q[:10], enterprise="常州某科技有限公司",
                            chain="nev", confidential=False, owner=None)
               for i, q in enumerate(QUERIES)]
    enc_dir = home / "tiny-encoder"
    vocab = sorted({q[j:j + 2] for q in QUERIES for j in range(0, len(q) - 1, 3)})
    make_tiny_encoder(enc_dir, vocab, dim=32, seed=0)
    store = open_store(settings)
    store.upsert_patents(patents)
    store.upsert_demands(demands)
    store.close()
    labels = {"patents": {p.id: {"chains": ["nev"]} for p in patents},
              "demands": {d.id: {"chains": ["nev"]} for d in demands}}
    encoder = load_encoder(EncoderConfig(name=str(enc_dir)), settings)
    build_bundle(patents, demands, out_dir=settings.staging_dir / "tiny-1",
                 tokenizer=ChineseTokenizer(), encoder=encoder,
                 encoder_config={"name": str(enc_dir)}, build_id="tiny-1", labels=labels)
    publish(settings, "tiny-1")


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes of a ``patmatch serve --workers N``, the standby
    included (not the resource tracker that multiprocessing also starts)."""
    import psutil

    out = []
    for c in psutil.Process(server_pid).children():
        try:
            cmd = " ".join(c.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd or "multiprocessing-fork" in cmd:
            out.append(c.pid)
    return sorted(out)


def listening(pid: int) -> bool:
    import psutil

    try:
        return any(c.status == "LISTEN" for c in psutil.Process(pid).net_connections("tcp"))
    except psutil.Error:
        return False


def serving_pids(server_pid: int) -> list[int]:
    """The workers that listen (serve); a standby does not until it takes over."""
    return [p for p in worker_pids(server_pid) if listening(p)]


def bundle_mapped(pid: int, home: Path) -> bool:
    """Whether ``pid`` has memory-mapped a file of a published bundle (it loaded it)."""
    import psutil

    root = str(Path(home).resolve() / "bundles")
    try:
        return any(m.path.startswith(root) for m in psutil.Process(pid).memory_maps())
    except psutil.Error:
        return False


def worker_memory(server_pid: int) -> dict[str, dict[str, float]]:
    """RSS and USS (pages only this process holds) of every worker, in MB: what the
    standby costs (its bundle maps and libraries are shared with the workers' page cache,
    its USS is its own)."""
    import psutil

    out = {}
    for pid in worker_pids(server_pid):
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        role = "serving" if listening(pid) else "standby"
        out[f"{role}-{pid}"] = {"rss": round(info.rss / 2**20, 1),
                                "uss": round(info.uss / 2**20, 1)}
    return out


def wait_listening(server_pid: int, n: int, timeout: float = 300) -> list[int]:
    """Wait until ``n`` workers listen (each has loaded the bundle): /readyz answers as
    soon as the first one does, and the kill must not hit one still starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = serving_pids(server_pid)
        if len(pids) >= n:
            return pids
        time.sleep(0.3)
    raise SystemExit(f"{n} workers not listening after {timeout:.0f} s")


def wait_standby(server_pid: int, home: Path, timeout: float = 300) -> int:
    """Wait until the standby worker (started once the workers serve) has loaded the
    bundle and idles (standing by: it uses no CPU); its pid."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle = [p for p in worker_pids(server_pid) if not listening(p)]
        if idle and bundle_mapped(idle[0], home):
            try:
                proc = psutil.Process(idle[0])
                cpu = sum(proc.cpu_times()[:2])
                time.sleep(1.0)
                if sum(proc.cpu_times()[:2]) - cpu < 0.05:
                    return idle[0]
            except psutil.Error:
                pass
        time.sleep(0.3)
    raise SystemExit(f"no loaded standby after {timeout:.0f} s")


async def _load(host: str, port: int, key: str, clients: int, seconds: float,
                kill_after: float, server_pid: int, timeout: float) -> dict[str, Any]:
    queries = distinct_queries(5000)
    t0 = time.monotonic()
    stop_at = t0 + seconds
    done: list[tuple[float, float]] = []  # (finish time since t0, latency s)
    resets: dict[str, int] = {}
    unanswered = 0
    statuses: dict[int, int] = {}
    seq = iter(range(10 ** 9))
    killed: dict[str, Any] = {}
    trails: list[Any] = []  # (start s, end s, [(reset kind, at s)]) of requests over 1 s
    retried: list[float] = []  # latency (s) of the answered requests that met a reset

    async def client() -> None:
        nonlocal unanswered
        c = RawClient(host, port, key)
        try:
            while time.monotonic() < stop_at:
                i = next(seq)
                body = json.dumps({"text": queries[i % len(queries)], "top_k": 5},
                                  ensure_ascii=False).encode()
                start = time.monotonic()
                trail: list[tuple[str, float]] = []
                while True:
                    try:
                        status, _ = await asyncio.wait_for(c.post(body), timeout)
                        break
                    except (OSError, asyncio.IncompleteReadError, ValueError,
                            asyncio.TimeoutError) as exc:
                        resets[type(exc).__name__] = resets.get(type(exc).__name__, 0) + 1
                        trail.append((type(exc).__name__, round(time.monotonic() - t0, 2)))
                        await c.close()
                        if time.monotonic() - start > timeout:
                            status = -1
                            break
                        await asyncio.sleep(0.01)
                if status == -1:
                    unanswered += 1
                    continue
                statuses[status] = statuses.get(status, 0) + 1
                done.append((time.monotonic() - t0, time.monotonic() - start))
                if trail:
                    retried.append(time.monotonic() - start)
                if time.monotonic() - start > 1.0:
                    trails.append((round(start - t0, 2), round(time.monotonic() - t0, 2), trail))
        finally:
            await c.close()

    # the process scans (psutil) run on a thread: on the clients' event loop they held it
    # for ~0.1 s each under load, and the clients noticed the resets ~0.9 s late
    async def killer() -> None:
        await asyncio.sleep(kill_after)
        serving = await asyncio.to_thread(serving_pids, server_pid)
        idle = [p for p in await asyncio.to_thread(worker_pids, server_pid) if p not in serving]
        victim = serving[0]
        os.kill(victim, signal.SIGKILL)
        killed.update(pid=victim, at_s=round(time.monotonic() - t0, 3), standby_pid=
                      idle[0] if idle else None)
        while time.monotonic() < stop_at:  # when a replacement serves
            await asyncio.sleep(0.1)
            new = [p for p in await asyncio.to_thread(serving_pids, server_pid)
                   if p not in serving]
            if new:
                killed["replacement_listening_s"] = round(time.monotonic() - t0, 2)
                killed["replacement_pid"] = new[0]
                killed["replacement_was_standby"] = new[0] in idle
                return

    await asyncio.gather(killer(), *(client() for _ in range(clients)))
    k = killed.get("at_s", kill_after)
    lat_ms = [d * 1000 for _, d in done]
    before = [d for t, d in done if t < k]
    after = [(t, d) for t, d in done if t >= k]
    # requests in flight at the kill (started before, finished after) and the later ones
    worst = max(lat_ms) if lat_ms else None
    stalled = sorted((round(d * 1000), round(t - d, 2)) for t, d in after if d > 1.0)
    return {"clients": clients, "seconds": seconds, "kill": killed,
            "requests_ok": len(done), "statuses": statuses,
            "resets_retried": sum(resets.values()), "reset_kinds": resets,
            "unanswered": unanswered,
            "max_latency_ms": round(worst, 1) if worst else None,
            "p50_ms": round(pct(lat_ms, 50), 1), "p99_ms": round(pct(lat_ms, 99), 1),
            "max_before_kill_ms": round(max(before) * 1000, 1) if before else None,
            "p99_before_kill_ms": round(pct([d * 1000 for d in before], 99), 1),
            "retried_requests": len(retried),
            "max_retried_ms": round(max(retried) * 1000, 1) if retried else None,
            "max_after_kill_ms": round(max(d for _, d in after) * 1000, 1) if after else None,
            "requests_over_1s": len(stalled),
            "slowest_after_kill_ms_started_s": stalled[-10:],
            "slow_request_trails": sorted(trails, key=lambda x: x[0] - x[1])[:10],
            "answers_per_second": [sum(1 for t, _ in done if int(t) == s)
                                   for s in range(int(max((t for t, _ in done), default=0)) + 1)],
            "req_per_s_before_kill": round(len(before) / k, 1) if k else None,
            "requests_after_kill": len(after),
            "req_per_s_after_kill": round(len(after) / max(1e-9, seconds - k), 1)}


def run(home: Path, clients: int, seconds: float, kill_after: float,
        timeout: float = 30.0, *, standby: bool = True) -> dict[str, Any]:
    from api.db import open_api_db
    from api.security import KeyStore
    from patmatch.settings import Settings

    key, _ = KeyStore(open_api_db(Settings(home=home))).create("worker_restart", "operator")
    port = free_port()
    proc = spawn_server(home, 2, port, standby=standby)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        wait_listening(proc.pid, 2)
        if standby:
            wait_standby(proc.pid, home)
        memory = worker_memory(proc.pid)
        res = asyncio.run(_load("127.0.0.1", port, key, clients, seconds, kill_after,
                                proc.pid, timeout))
        res["server_alive_at_end"] = proc.poll() is None
        res["worker_memory_mb"] = memory
        return res
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data home to serve (default: a tiny demo home)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--kill-after", type=float, default=4.0)
    ap.add_argument("--standby", action=argparse.BooleanOptionalAction, default=True,
                    help="serve with a hot standby worker (the default of patmatch serve)")
    ap.add_argument("--label", default="", help="a note kept in the report (e.g. before/after)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/worker_restart.json"))
    args = ap.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 2 <= args.seconds <= 300:
        ap.error("--clients 1..500, --seconds 2..300")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pm-restart-") as tmp:
        home = args.home
        if home is None:
            home = Path(tmp) / "home"
            home.mkdir()
            make_tiny_home(home)
        res = run(home, args.clients, args.seconds, args.kill_after, standby=args.standby)
    res.update(label=args.label, standby=args.standby, machine={"cpus": os.cpu_count(),
                                          "python": platform.python_version(),
                                          "load_avg_1m_at_start": round(load0, 2),
                                          "load_avg_1m_at_end": round(os.getloadavg()[0], 2)})
    print(json.dumps(res, ensure_ascii=False, indent=1))
    atomic_write_json(args.out, res)
    print(f"wrote {args.out}")
    return 0 if res["unanswered"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
