"""The load benchmark's client side: distinct query texts and a lean keep-alive HTTP/1.1
client (see benchmarks/load_api.py, which runs it per concurrency level).

A request's client CPU is CPU the server does not get on a 2-core box: the raw client
costs ~0.1-0.2 ms per request, httpx ~1.3-1.5 ms (both measured by ``run_level`` as
``client_cpu_ms_per_req``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
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
            from indexing.store.record_store import open_store
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


async def run_level(base: str, key: str, concurrency: int, n: int, queries: list[str],
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
