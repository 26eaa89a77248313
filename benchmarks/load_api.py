"""Load test of the HTTP API on this machine: POST /v1/match latency and throughput.

Bounded by construction: a fixed number of requests per concurrency level, only against
127.0.0.1 / localhost / ::1 (anything else is refused), and it stops by itself.

    # spawn `patmatch serve` on a free port over an existing data home
    python -m benchmarks.load_api --home ~/.patmatch --workers 2 --requests 400
    # ... and again while bundles are swapped (needs two published bundles)
    python -m benchmarks.load_api --home ~/.patmatch --workers 2 --during-publish
    # against a server you started yourself
    python -m benchmarks.load_api --base-url http://127.0.0.1:8000 --key pm_...

Honest and light:
- every request carries a different query text (the home's demands, title + text, else
  combinations of QUERIES): nothing a cache could serve is measured twice;
- the default client (``--client raw``) is a minimal keep-alive HTTP/1.1 client on
  asyncio streams (uvloop when installed): ~0.1-0.2 ms of CPU per request against
  httpx's ~1.3-1.5 ms (measured, both reported as ``client_cpu_ms_per_req``), CPU the
  server shares on a 2-core box;
- the server's CPU per request (all its processes, via psutil) and each process's share
  are reported, so a figure can be read against the machine's load average.

Reports p50/p95/p99 latency (client side, ms), requests/s and errors per level, and
writes them as JSON (default benchmarks/results/load_api.json; load_api_publish.json with
``--during-publish``). With ``--during-publish`` and ``--home`` the pointer is moved
from this process (as a nightly publish would), so the client's CPU figure includes that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from benchmarks.load_client import run_level, distinct_queries
from patmatch.atomic_io import atomic_write_json

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


async def _swapper(base: str, key: str, stop: asyncio.Event, max_swaps: int,
                   pause: float, home: Path | None = None) -> dict[str, Any]:
    """Alternate another bundle / the original until ``stop`` (at most ``max_swaps``).

    With ``home`` the pointer is moved here (``publish`` of an already published build,
    no evaluator: both were gated when first published), the way a nightly job in its own
    process publishes, and the workers switch through their pointer poll. Without it,
    rollback / publish through the admin API (the answering worker switches at once)."""
    import httpx

    done, failed = 0, 0
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 headers={"X-API-Key": key}) as client:
        settings = None
        if home is not None:
            from indexing.index.bundle import read_pointer
            from patmatch.settings import Settings

            settings = Settings(home=home)
            pointer = read_pointer(settings)  # not /v1/index: a worker may lag the pointer
            original = pointer["current"]
            other = _other_bundle(settings, original, pointer.get("history") or [])
        else:
            original = (await client.get("/v1/index")).json()["build_id"]

        async def swap(back: bool) -> bool:
            if settings is not None:
                from indexing.build.publish import publish

                try:
                    await asyncio.to_thread(publish, settings, original if back else other)
                    return True
                except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                    print(f"  swap {done + 1} failed: {exc}", file=sys.stderr)
                    return False
            r = await (client.post("/v1/admin/publish", json={"build_id": original}) if back
                       else client.post("/v1/admin/rollback"))
            if r.status_code != 200:
                print(f"  swap {done + 1} failed: {r.status_code} {r.text[:200]}",
                      file=sys.stderr)
            return r.status_code == 200

        while not stop.is_set() and done < max_swaps:
            good = await swap(back=done % 2 == 1)
            done += 1
            failed += not good
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except asyncio.TimeoutError:
                pass
        if done % 2 == 1:  # leave the original bundle current
            await swap(back=True)
    return {"swaps": done, "swap_failures": failed,
            "swap_via": "pointer" if home is not None else "api"}


def _other_bundle(settings: Any, current: str, history: list[str]) -> str:
    """The bundle to swap to: the previous one, else the newest other published one."""
    bdir = settings.bundles_dir
    for bid in reversed(history):
        if bid != current and (bdir / bid / "manifest.json").is_file():
            return bid
    others = sorted((p.name for p in bdir.iterdir()
                     if p.is_dir() and p.name != current and (p / "manifest.json").is_file()),
                    reverse=True)
    if not others:
        raise SystemExit(f"--during-publish needs a second published bundle in {bdir}: "
                         "run `patmatch build && patmatch publish` once more")
    return others[0]


def _server_cpu(proc: subprocess.Popen | None) -> dict[int, float] | None:
    """CPU seconds used so far by the spawned server and each of its worker processes."""
    if proc is None:
        return None
    try:
        import psutil

        p = psutil.Process(proc.pid)
        out: dict[int, float] = {}
        for q in [p, *p.children(recursive=True)]:
            try:
                t = q.cpu_times()
                out[q.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out
    except Exception:  # noqa: BLE001 - a missing figure, not a failed run
        return None


def _cpu_delta(before: dict[int, float] | None, after: dict[int, float] | None,
               n: int) -> dict[str, Any]:
    """Server CPU per request, and each process's share (an idle worker shows here)."""
    if not before or not after:
        return {}
    per = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    total = sum(per.values())
    return {"server_cpu_ms_per_req": round(total * 1000 / n, 3),
            "server_cpu_s_by_process": sorted((round(v, 2) for v in per.values()),
                                              reverse=True)}


async def _run(base: str, key: str, levels: list[int], n: int, top_k: int,
               during_publish: bool, pause: float, queries: list[str], client: str,
               proc: subprocess.Popen | None = None,
               swap_home: Path | None = None) -> list[dict[str, Any]]:
    results = []
    warm = min(50, n)
    used = 0

    def take(k: int) -> list[str]:
        nonlocal used
        out = queries[used: used + k]
        used += k
        return out

    for c in levels:
        await run_level(base, key, min(c, 10), warm, take(warm), top_k, client)  # warm-up
        stop = asyncio.Event()
        swapper = (asyncio.create_task(_swapper(base, key, stop, 40, pause, swap_home))
                   if during_publish else None)
        cpu0 = _server_cpu(proc)
        res = await run_level(base, key, c, n, take(n), top_k, client)
        res.update(_cpu_delta(cpu0, _server_cpu(proc), n))
        res["load_avg_1m"] = round(os.getloadavg()[0], 2)
        stop.set()
        if swapper is not None:
            res.update(await swapper)
        res["during_publish"] = during_publish
        results.append(res)
        print(json.dumps(res, ensure_ascii=False))
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(home: Path, workers: int, port: int, loop: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PATMATCH_HOME": str(home), "PATMATCH_API_RELOAD_POLL_SECONDS": "0.5"}
    # through `patmatch serve`, which sets TCP_NODELAY in multi-worker mode (plain
    # `uvicorn --workers N` does not, and adds ~40 ms per response)
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
           "warning", "--no-access-log", *(["--loop", loop] if loop else [])]
    return subprocess.Popen(cmd, env=env)


def _wait_ready(base: str, proc: subprocess.Popen | None, timeout: float = 300) -> str:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            r = httpx.get(f"{base}/readyz", timeout=5)
            if r.status_code == 200:
                return r.json()["build_id"]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f} s")


def _wait_settled(proc: subprocess.Popen | None, timeout: float = 180) -> None:
    """Wait until the spawned server's processes are idle: ``serve --workers N`` answers
    /readyz when its workers are up, and only then starts loading the hot standby, whose
    start-up (~10 s of CPU) would otherwise share the cores with the measurement (it made
    265 req/s out of 332 on 2026-12-06)."""
    deadline = time.monotonic() + timeout
    last = _server_cpu(proc)
    while last is not None and time.monotonic() < deadline:
        time.sleep(2.0)
        now = _server_cpu(proc)
        if now is None or sum(now.values()) - sum(last.values()) < 0.1:
            return
        last = now


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="a running server (loopback only)")
    ap.add_argument("--key", help="API key for --base-url (operator for --during-publish)")
    ap.add_argument("--home", type=Path, help="data home to serve (spawns uvicorn)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--loop", choices=("asyncio", "uvloop", "auto"), default=None,
                    help="`patmatch serve --loop` of the spawned server (default: serve's)")
    ap.add_argument("--requests", type=int, default=400, help="per concurrency level")
    ap.add_argument("--levels", default="1,10,50")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="raw: minimal keep-alive HTTP/1.1 on asyncio (least CPU); httpx")
    ap.add_argument("--during-publish", action="store_true",
                    help="swap bundles (rollback/publish) while measuring")
    ap.add_argument("--swap-via", choices=("pointer", "api"), default=None,
                    help="pointer: move the pointer from this process like a nightly job "
                         "(default with --home); api: POST /v1/admin/rollback|publish")
    ap.add_argument("--swap-pause", type=float, default=2.0, help="seconds between swaps")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/load_api.json"))
    args = ap.parse_args(argv)
    if args.requests < 1 or args.requests > 100_000:
        ap.error("--requests must be between 1 and 100000")
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    proc = None
    if args.base_url:
        host = urlparse(args.base_url).hostname or ""
        if host not in LOOPBACK:
            ap.error(f"--base-url must point at this machine (127.0.0.1/localhost); got {host}")
        if not args.key:
            ap.error("--key is required with --base-url")
        base, key = args.base_url.rstrip("/"), args.key
    elif args.home:
        from api.db import open_api_db
        from api.security import KeyStore
        from patmatch.settings import Settings

        # the server's database: PATMATCH_DATABASE_URL, else the SQLite file in --home
        key, _ = KeyStore(open_api_db(Settings(home=args.home))).create("load_api benchmark",
                                                                        "operator")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _spawn(args.home, args.workers, port, args.loop)
    else:
        ap.error("give --home (spawn a server) or --base-url and --key")
    swap_via = args.swap_via or ("pointer" if args.home else "api")
    if swap_via == "pointer" and not args.home:
        ap.error("--swap-via pointer needs --home")
    queries = distinct_queries(len(levels) * (args.requests + min(50, args.requests)),
                               args.home)
    try:
        build_id = _wait_ready(base, proc)
        _wait_settled(proc)
        try:  # the client's own event loop is part of its CPU cost: the leanest one
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        results = runner(_run(base, key, levels, args.requests, args.top_k,
                              args.during_publish, args.swap_pause, queries, args.client,
                              proc, args.home if swap_via == "pointer" else None))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    # other work on the machine skews every figure: keep the load average with them
    report = {"build_id": build_id, "workers": args.workers if proc else None,
              "top_k": args.top_k, "distinct_queries": len(set(queries)),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m_at_end": os.getloadavg()[0]},
              "results": results}
    out = args.out
    if args.during_publish and out.name == "load_api.json":
        out = out.with_name("load_api_publish.json")
    atomic_write_json(out, report)
    print(f"wrote {out}")
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
