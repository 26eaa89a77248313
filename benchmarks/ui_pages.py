"""Web console: server time per page on a real data home, and the README screenshots.

    python -m benchmarks.ui_pages --home H [--repeat 20] [--out F.json] [--screens DIR]

Times each main page in process (the app's test client: routing, session check, the
API's services, rendering; no network) over ``--repeat`` requests after one warm-up, and
with ``--screens`` serves the same app with uvicorn on 127.0.0.1 and saves screenshots
from headless Chromium (Debian's, through Playwright) at 1366×768 and at phone width.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

QUERY = "电动物流车冬季低温续航下降明显，希望提升锂电池低温放电性能"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _login(client: Any, key: str) -> None:
    token = CSRF.search(client.get("/ui/login").text).group(1)
    r = client.post("/ui/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]


def page_paths(app: Any, centre_key: str) -> dict[str, str]:
    """One URL per main page, filled with real ids from the data home."""
    engine = app.state.engine
    store = engine.store
    principal = app.state.keys.verify(centre_key)
    demand = next(iter(store.list_demands(principal.centre, 1, 0)), None)
    snap = engine.snapshot()
    hit = snap.ranker.match_text(QUERY, filters=engine.make_filters(), limit=1).items[0]
    chain = principal.chains[0]
    return {"需求匹配（空）": "/ui/match",
            "需求匹配（文本）": "/ui/match?q=" + quote(QUERY),
            "需求匹配（筛选+第2页）": f"/ui/match?q={quote(QUERY)}&chain={chain}&open=true&page=2",
            "需求列表（本中心）": "/ui/demands",
            "需求列表（全部可见）": "/ui/demands?scope=all",
            "需求详情": f"/ui/demands/{quote(demand.id)}" if demand else "/ui/demands",
            "新建需求": "/ui/demands/new",
            "专利详情": f"/ui/patents/{quote(hit.record_id)}",
            "产业链": "/ui/chains",
            "产业链供需配对": f"/ui/chains/{chain}",
            "订阅": "/ui/subscriptions",
            "统计报告": "/ui/reports",
            "运维": "/ui/ops"}


def own_demand(app: Any, key: str) -> None:
    """A centre with one demand of its own, so its list and detail pages are not empty."""
    from indexing.records import DemandRecord

    p = app.state.keys.verify(key)
    store = app.state.engine.store
    if not list(store.list_demands(p.centre, 1, 0)):
        store.upsert_demands([DemandRecord(
            id="D-UI-0001", title="动力电池低温续航提升", text=QUERY, enterprise="常州某物流车有限公司",
            chain=p.chains[0], region="江苏省常州市", budget="50-100万元",
            cooperation_mode="合作开发", required_trl=6, owner=p.centre, confidential=True,
            contact_name="张伟", contact_phone="13812345678")])


def time_pages(app: Any, keys: dict[str, str], paths: dict[str, str], repeat: int
               ) -> dict[str, dict[str, float]]:
    from fastapi.testclient import TestClient

    out: dict[str, dict[str, float]] = {}
    clients = {}
    for who in ("centre", "operator"):
        c = TestClient(app)
        _login(c, keys[who])
        clients[who] = c
    for name, path in paths.items():
        c = clients["operator" if name in ("运维", "统计报告") else "centre"]
        r = c.get(path)
        assert r.status_code == 200, (name, r.status_code, r.text[-300:])
        ms = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            c.get(path)
            ms.append((time.perf_counter() - t0) * 1000)
        ms.sort()
        out[name] = {"p50_ms": round(statistics.median(ms), 1),
                     "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1),
                     "max_ms": round(ms[-1], 1), "bytes": len(r.content)}
        print(f"{name:<16} p50 {out[name]['p50_ms']:7.1f} ms  p95 {out[name]['p95_ms']:7.1f} ms")
    return out


def screenshots(app: Any, keys: dict[str, str], paths: dict[str, str], out_dir: Path) -> None:
    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="off"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    out_dir.mkdir(parents=True, exist_ok=True)
    # (file name, path, who, phone too)
    shots = [("match", paths["需求匹配（文本）"], "centre", True),
             ("demand", paths["需求详情"], "centre", True),
             ("patent", paths["专利详情"], "centre", False),
             ("chains", paths["产业链供需配对"], "centre", False),
             ("ops", "/ui/ops", "operator", False)]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"])
            for width, height, suffix in ((1366, 768, ""), (390, 844, "-phone")):
                ctx = browser.new_context(viewport={"width": width, "height": height},
                                          locale="zh-CN")
                pg = ctx.new_page()
                pg.goto(base + "/ui/login")
                if not suffix:
                    pg.screenshot(path=str(out_dir / "login.png"))
                for who in ("centre", "operator"):
                    ctx.clear_cookies()
                    pg.goto(base + "/ui/login")
                    pg.fill("#key", keys[who])
                    pg.keyboard.press("Enter")
                    pg.wait_for_url("**/ui/match")
                    for name, path, role, phone in shots:
                        if role == who and (phone or not suffix):
                            pg.goto(base + path)
                            if name == "demand":  # show its matches and outcome buttons
                                pg.locator("section[aria-label='匹配的专利'] h2"
                                           ).scroll_into_view_if_needed()
                                pg.mouse.wheel(0, 300 if not suffix else 0)
                            pg.screenshot(path=str(out_dir / f"{name}{suffix}.png"))
                ctx.close()
            browser.close()
    finally:
        srv.should_exit = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--screens", type=Path, default=None)
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from api.main import create_app
    from patmatch.settings import Settings

    app = create_app(Settings(home=args.home))
    with TestClient(app):  # lifespan: loads the published bundle
        engine = app.state.engine
        centre_chain = next(c.id for c in engine.chains())
        keys = {"centre": app.state.keys.create("常州市新能源汽车产业链运营中心", "centre",
                                                centre="cz-demo", chains=(centre_chain,))[0],
                "operator": app.state.keys.create("平台运维", "operator")[0]}
        own_demand(app, keys["centre"])
        paths = page_paths(app, keys["centre"])
        snap = engine.snapshot()
        result: dict[str, Any] = {"build_id": snap.build_id,
                                  "counts": snap.manifest.get("counts", {}),
                                  "repeat": args.repeat,
                                  "pages": time_pages(app, keys, paths, args.repeat)}
        if args.out:
            args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                                encoding="utf-8")
        if args.screens:
            screenshots(app, keys, paths, args.screens)


if __name__ == "__main__":
    main()
