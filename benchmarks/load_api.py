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


async def _level(base: str, key: str, concurrency: int, n: int, queries: list[str],
                 top_k: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    builds: dict[str, int] = {}
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits,
                                 headers={"X-API-Key": key}) as client:
        async def worker() -> None:
            for i in counter:
                body = {"text": queries[i % len(queries)], "top_k": top_k}
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/match", json=body)
                    dt = time.perf_counter() - t0
                    if r.status_code == 200:
                        latencies.append(dt * 1000)
                        bid = r.json().get("build_id", "?")
                        builds[bid] = builds.get(bid, 0) + 1
                    else:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"concurrency": concurrency, "requests": n, "ok": len(latencies),
            "errors": sum(errors.values()), "error_kinds": errors,
            "p50_ms": round(_pct(latencies, 50), 2), "p95_ms": round(_pct(latencies, 95), 2),
            "p99_ms": round(_pct(latencies, 99), 2),
            "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
            "req_per_s": round(n / wall, 1), "wall_s": round(wall, 2), "builds_seen": builds}


async def _swapper(base: str, key: str, stop: asyncio.Event, max_swaps: int,
                   pause: float) -> dict[str, Any]:
    """Alternate rollback / publish(original) until ``stop`` (at most ``max_swaps``)."""
    import httpx

    done, failed = 0, 0
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 headers={"X-API-Key": key}) as client:
        original = (await client.get("/v1/index")).json()["build_id"]
        while not stop.is_set() and done < max_swaps:
            if done % 2 == 0:
                r = await client.post("/v1/admin/rollback")
            else:
                r = await client.post("/v1/admin/publish", json={"build_id": original})
            done += 1
            failed += r.status_code != 200
            if r.status_code != 200:
                print(f"  swap {done} failed: {r.status_code} {r.text[:200]}", file=sys.stderr)
            await asyncio.sleep(pause)
        if done % 2 == 1:  # leave the original bundle current
            await client.post("/v1/admin/publish", json={"build_id": original})
    return {"swaps": done, "swap_failures": failed}


async def _run(base: str, key: str, levels: list[int], n: int, top_k: int,
               during_publish: bool, pause: float) -> list[dict[str, Any]]:
    results = []
    for c in levels:
        await _level(base, key, min(c, 10), min(50, n), QUERIES, top_k)  # warm-up
        stop = asyncio.Event()
        swapper = (asyncio.create_task(_swapper(base, key, stop, 40, pause))
                   if during_publish else None)
        res = await _level(base, key, c, n, QUERIES, top_k)
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
    ap.add_argument("--during-publish", action="store_true",
                    help="swap bundles (rollback/publish) while measuring")
    ap.add_argument("--swap-pause", type=float, default=1.0, help="seconds between swaps")
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
    try:
        build_id = _wait_ready(base, proc)
        results = asyncio.run(_run(base, key, levels, args.requests, args.top_k,
                                   args.during_publish, args.swap_pause))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    # other work on the machine skews every figure: keep the load average with them
    report = {"build_id": build_id, "workers": args.workers if proc else None,
              "top_k": args.top_k, "machine": {"cpus": os.cpu_count(),
                                              "python": platform.python_version(),
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
