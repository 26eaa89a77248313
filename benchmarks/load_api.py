"""Load test of the HTTP API on this machine: POST /v1/match latency and throughput.

Bounded by construction: a fixed number of requests per concurrency level, only against
127.0.0.1 / localhost / ::1 (anything else is refused), and it stops by itself.

    # spawn `uvicorn api.main:create_app` on a free port over an existing data home
    python -m benchmarks.load_api --home ~/.patmatch --workers 2 --requests 400
    # ... and repeat the levels while bundles are swapped (rollback/publish in a loop)
    python -m benchmarks.load_api --home ~/.patmatch --workers 2 --during-publish
    # against a server you started yourself
    python -m benchmarks.load_api --base-url http://127.0.0.1:8000 --key pm_...

Reports p50/p95/p99 latency (client side, ms), requests/s and errors per level, and
writes them as JSON (default benchmarks/results/load_api.json). The client shares the
machine's cores with the server: numbers are a floor of what the server can do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

QUERIES = [
    "动力电池低温续航衰减，希望提升锂电池低温放电性能",
    "电动汽车电机控制器散热不好，需要改进散热结构",
    "光伏组件表面积灰影响发电效率，需要自动清洗装置",
    "储能电站电池簇一致性差，寻求均衡管理技术",
    "工业机器人减速器精度下降，希望找到高精度谐波减速器技术",
    "数控机床主轴热变形导致加工误差，需要热补偿方法",
    "碳纤维复合材料成本高，寻求低成本碳纤维制备工艺",
    "石墨烯导热膜量产工艺不稳定",
    "输电线路覆冰监测，需要低功耗传感器",
    "变电站设备局部放电在线检测",
    "工厂设备数据采集协议不统一，需要工业互联网网关",
    "基于机器视觉的产品表面缺陷检测",
    "生物医药注射剂稳定性差，寻求新型制剂技术",
    "医疗器械导管表面抗菌涂层",
    "高强度铝合金焊接热裂纹问题",
    "轨道交通车辆轴承故障预测",
    "柔性压力传感器灵敏度不足",
    "新能源汽车车载充电机效率提升",
    "锂电池正极材料循环寿命短",
    "光伏逆变器散热与可靠性",
    "氢燃料电池膜电极成本高",
    "智能电网负荷预测算法",
    "锂离子电池电解液低温性能改进",
    "物联网设备低功耗无线通信模组",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def distinct_queries(n: int, home: Path | None = None) -> list[str]:
    """``n`` distinct query texts: the demo/store demands when a home is given (their
    title + text, the way a centre would paste them), else combinations of QUERIES.
    No text repeats within a run, so nothing a cache could serve is measured twice."""
    texts: list[str] = []
    if home is not None:
        try:
            from indexing.store import open_store
            from patmatch.settings import Settings

            store = open_store(Settings(home=home))
            try:
                for d in store.iter_demands():
                    t = f"{d.title}。{d.text}" if d.title else d.text
                    texts.append(t[:1000])
                    if len(texts) >= 4 * n:
                        break
            finally:
                store.close()
        except Exception as exc:  # an empty or foreign home: fall back to generated texts
            print(f"  (no demands from {home}: {exc}; using generated queries)", file=sys.stderr)
    texts = list(dict.fromkeys(texts))
    if len(texts) < n:
        extra = [f"{a}，同时{b}" for a in QUERIES for b in QUERIES if a != b]
        texts = list(dict.fromkeys(texts + QUERIES + extra))
    if len(texts) < n:
        texts += [f"{texts[i % len(texts)]}（第{i}批）" for i in range(n - len(texts))]
    import random

    random.Random(7).shuffle(texts)
    return texts[:n]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: one connection per
    concurrent worker, pre-encoded headers, responses framed by Content-Length only
    (what uvicorn sends for JSON). It costs the shared CPU a fraction of httpx's."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = (f"POST /v1/match HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"X-API-Key: {key}\r\nContent-Type: application/json\r\n"
                     "Content-Length: ").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        status = int(head[9:12])
        i = head.lower().find(b"content-length:")
        if i < 0:
            await self.close()
            raise ConnectionError("response without Content-Length")
        n = int(head[i + 15: head.index(b"\r\n", i)])
        data = await self.reader.readexactly(n)
        if b"connection: close" in head.lower():
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.reader = self.writer = None


def _build_of(data: bytes) -> str:
    i = data.find(b'"build_id":"')
    if i < 0:
        return "?"
    j = data.find(b'"', i + 12)
    return data[i + 12: j].decode("ascii", "replace")


async def _level(base: str, key: str, concurrency: int, n: int, queries: list[str],
                 top_k: int, client: str = "raw") -> dict[str, Any]:
    """``n`` requests by ``concurrency`` workers over keep-alive connections; query
    ``i`` is ``queries[i]`` (distinct texts: give at least ``n``)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    builds: dict[str, int] = {}
    counter = iter(range(n))
    bodies = [json.dumps({"text": queries[i % len(queries)], "top_k": top_k},
                         ensure_ascii=False).encode("utf-8") for i in range(n)]
    u = urlparse(base)

    def fail(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    def ok(status: int, data: bytes, dt: float) -> None:
        if status == 200:
            latencies.append(dt * 1000)
            bid = _build_of(data)
            builds[bid] = builds.get(bid, 0) + 1
        else:
            fail(str(status))

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if client == "raw":
        async def raw_worker() -> None:
            c = RawClient(u.hostname or "127.0.0.1", u.port or 80, key)
            try:
                for i in counter:
                    t = time.perf_counter()
                    try:
                        status, data = await c.post(bodies[i])
                        ok(status, data, time.perf_counter() - t)
                    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                        fail(type(exc).__name__)
            finally:
                await c.close()

        await asyncio.gather(*(raw_worker() for _ in range(concurrency)))
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits,
                                     headers={"X-API-Key": key,
                                              "Content-Type": "application/json"}) as hc:
            async def httpx_worker() -> None:
                for i in counter:
                    t = time.perf_counter()
                    try:
                        r = await hc.post("/v1/match", content=bodies[i])
                        ok(r.status_code, r.content, time.perf_counter() - t)
                    except httpx.HTTPError as exc:
                        fail(type(exc).__name__)

            await asyncio.gather(*(httpx_worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"concurrency": concurrency, "requests": n, "ok": len(latencies),
            "errors": sum(errors.values()), "error_kinds": errors,
            "p50_ms": round(_pct(latencies, 50), 2), "p95_ms": round(_pct(latencies, 95), 2),
            "p99_ms": round(_pct(latencies, 99), 2),
            "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
            "req_per_s": round(n / wall, 1), "wall_s": round(wall, 2),
            "client": client, "client_cpu_ms_per_req": round(cpu * 1000 / n, 3),
            "builds_seen": builds}


async def _swapper(base: str, key: str, stop: asyncio.Event, max_swaps: int,
                   pause: float, home: Path | None = None) -> dict[str, Any]:
    """Alternate rollback / publish(original) until ``stop`` (at most ``max_swaps``).

    With ``home`` the pointer is moved here, the way a nightly job in its own process
    publishes (no quality-gate evaluation: both bundles were gated when first published),
    and the workers switch through their pointer poll. Without it, through the admin API
    (the serving process then also runs the gate's evaluation)."""
    import httpx

    done, failed = 0, 0
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 headers={"X-API-Key": key}) as client:
        original = (await client.get("/v1/index")).json()["build_id"]
        settings = None
        if home is not None:
            from patmatch.settings import Settings

            settings = Settings(home=home)

        async def swap(back: bool) -> bool:
            if settings is not None:
                from indexing.publish import publish, rollback

                try:
                    await asyncio.to_thread(
                        (lambda: publish(settings, original)) if back else
                        (lambda: rollback(settings)))
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
        await _level(base, key, min(c, 10), warm, take(warm), top_k, client)  # warm-up
        stop = asyncio.Event()
        swapper = (asyncio.create_task(_swapper(base, key, stop, 40, pause, swap_home))
                   if during_publish else None)
        cpu0 = _server_cpu(proc)
        res = await _level(base, key, c, n, take(n), top_k, client)
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


def _spawn(home: Path, workers: int, port: int) -> subprocess.Popen:
    env = {**os.environ, "PATMATCH_HOME": str(home), "PATMATCH_API_RELOAD_POLL_SECONDS": "0.5"}
    # through `patmatch serve`, which sets TCP_NODELAY in multi-worker mode (plain
    # `uvicorn --workers N` does not, and adds ~40 ms per response)
    cmd = [sys.executable, "-c", "from patmatch.cli import main; main()", "serve", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
           "warning", "--no-access-log"]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="a running server (loopback only)")
    ap.add_argument("--key", help="API key for --base-url (operator for --during-publish)")
    ap.add_argument("--home", type=Path, help="data home to serve (spawns uvicorn)")
    ap.add_argument("--workers", type=int, default=2)
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
        from api.db import ApiDB, api_db_path
        from api.security import KeyStore

        key, _ = KeyStore(ApiDB(api_db_path(args.home))).create("load_api benchmark",
                                                                 "operator")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _spawn(args.home, args.workers, port)
    else:
        ap.error("give --home (spawn a server) or --base-url and --key")
    swap_via = args.swap_via or ("pointer" if args.home else "api")
    if swap_via == "pointer" and not args.home:
        ap.error("--swap-via pointer needs --home")
    queries = distinct_queries(len(levels) * (args.requests + min(50, args.requests)),
                               args.home)
    try:
        build_id = _wait_ready(base, proc)
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
