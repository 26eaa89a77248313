"""Two API workers writing demands and feedback while the nightly job ingests and builds,
on SQLite and on PostgreSQL (issue 14): no lost update, no duplicate id, a feedback state
change is atomic (of two transitions from the same state exactly one wins), the audit log
stays append-only. The scenario and its checks: ``tests/api/concurrent_scenario.py``.

- in-process (default run): two apps from ``create_app`` on the same database, each called
  from several threads, ``run_nightly`` (fake tokenizer/encoder/labeler) on another;
- processes (slow): ``patmatch serve --workers 2`` over HTTP and ``patmatch nightly`` as
  its own process, as a deployment runs them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexing.store.record_store import open_store
from patmatch.settings import Settings
from tests.api import concurrent_scenario as scenario

ROOT = Path(__file__).resolve().parents[2]


def test_two_app_workers_and_the_nightly_run(db_settings: Settings) -> None:
    from api.main import create_app
    from indexing.build.nightly import run_nightly
    from tests.indexing._bundle_fakes import FakeEncoder, FakeLabeler, FakeTokenizer
    from tests.indexing.test_nightly import write_patents_csv

    with open_store(db_settings) as store:
        scenario.seed(store)
    write_patents_csv(db_settings.inbox_dir / "patents" / "batch1.csv", 40)
    fakes = {"tokenizer": FakeTokenizer(), "encoder": FakeEncoder(), "labeler": FakeLabeler()}
    apps = [create_app(db_settings, reload_interval=0) for _ in range(2)]
    key, _ = apps[0].state.keys.create("operator", "operator")
    with TestClient(apps[0], raise_server_exceptions=False) as c0, \
            TestClient(apps[1], raise_server_exceptions=False) as c1:

        def worker(client: TestClient) -> scenario.Call:
            def call(method: str, path: str, body: dict | None) -> tuple[int, Any]:
                r = client.request(method, path, json=body, headers={"X-API-Key": key})
                return r.status_code, r.json() if r.content else None
            return call

        out, night = scenario.run([worker(c0), worker(c1)], nightly=lambda: run_nightly(
            db_settings, evaluator=lambda _p: {"ndcg@10": 0.5}, **fakes))
    assert night.status == "ok", night.error
    with open_store(db_settings) as store:
        scenario.check(out, store.engine, store)
        assert store.counts()["patents"] == len(scenario.PATENTS) + 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"patmatch serve exited with {proc.returncode}"
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"patmatch serve not up after {timeout:.0f} s")


@pytest.mark.slow
def test_serve_two_workers_and_patmatch_nightly(db_settings: Settings, tmp_path: Path) -> None:
    """The same scenario against real processes: ``patmatch serve --workers 2`` and
    ``patmatch nightly`` (tiny encoder), all on the one database."""
    import httpx

    from api.security import KeyStore
    from api.db import open_api_db
    from indexing.training.tiny_encoder import make_tiny_encoder
    from tests.indexing.test_nightly import write_patents_csv

    with open_store(db_settings) as store:
        scenario.seed(store)
    db = open_api_db(db_settings)
    key, _ = KeyStore(db).create("operator", "operator")
    db.close()
    write_patents_csv(db_settings.inbox_dir / "patents" / "batch1.csv", 40)
    enc = make_tiny_encoder(tmp_path / "tiny", ["电池", "热管理", "低温", "放电"], dim=16)
    cfg = tmp_path / "build.json"
    cfg.write_text(json.dumps({"encoder": str(enc.path)}), encoding="utf-8")
    env = {**os.environ, "PATMATCH_HOME": str(db_settings.home),
           "PATMATCH_DATABASE_URL": db_settings.resolved_database_url,
           "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-c", "from api.cli import main; main()"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2", "--log-level", "warning", "--no-access-log"],
                              env=env)
    try:
        _wait_up(base, server)
        with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": key}) as http:

            def call(method: str, path: str, body: dict | None) -> tuple[int, Any]:
                r = http.request(method, path, json=body)
                return r.status_code, r.json() if r.content else None

            def nightly() -> subprocess.CompletedProcess:
                return subprocess.run([*cli, "nightly", "--config", str(cfg), "--json"],
                                      env=env, capture_output=True, text=True, timeout=300)

            # two connections, one per worker most of the time (SO_REUSEPORT spreads them)
            out, night = scenario.run([call, call], nightly=nightly)
        assert night.returncode == 0, night.stdout + night.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)
    with open_store(db_settings) as store:
        scenario.check(out, store.engine, store)
        assert store.counts()["patents"] == len(scenario.PATENTS) + 40
