"""A user-dictionary edit rolls out by nightly + publish alone: the running API takes the
tokenizer the new bundle records (its own copy of the dictionary), with no restart and
no failed request."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from patmatch.settings import Settings
from tests.api.conftest import DEMANDS, PATENTS, hdr
from tests.api.test_reload import _Server, _wait_for


def test_dictionary_edit_nightly_hot_swap_no_failed_request(tmp_path):
    pytest.importorskip("matcher.ranker")
    from indexing.build.nightly import run_nightly
    from indexing.build.build_config import BuildConfig
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.index.bundle import BUNDLE_USER_DICT
    from indexing.store.record_store import open_store
    from tests.indexing._bundle_fakes import FakeLabeler

    from api.main import create_app

    settings = Settings(home=tmp_path / "home")
    enc = tmp_path / "enc"
    make_tiny_encoder(enc, ["电池", "低温", "散热", "电机", "光伏"], dim=16, seed=0)
    user_dict = tmp_path / "user_dict.txt"
    user_dict.write_text("电机控制器 100\n", encoding="utf-8")
    with open_store(settings) as store:
        store.upsert_patents([p for p, _ in PATENTS])
        store.upsert_demands(DEMANDS)
    config = BuildConfig(tokenizer={"user_dict": str(user_dict)}, encoder=str(enc))
    kw = {"config": config, "labeler": FakeLabeler(), "evaluator": lambda _p: {"ndcg@10": 0.5}}
    first = run_nightly(settings, **kw)
    assert first.status == "ok", first.error
    app = create_app(settings, reload_interval=0.05)
    op, _ = app.state.keys.create("op", "operator")
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def loop(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for i in range(2000):
                if stop.is_set() and i > 10:
                    break
                r = http.post("/v1/match", json={"text": "电机控制器散热"}, headers=hdr(op))
                with lock:
                    results.append((r.status_code,
                                    r.json().get("build_id") if r.status_code == 200 else r.text))

    with _Server(app) as base:
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(loop, base) for _ in range(2)]
            time.sleep(0.3)
            user_dict.write_text("电机控制器 100\n散热结构 100\n", encoding="utf-8")  # the edit
            second = run_nightly(settings, **kw)
            assert second.status == "ok", second.error
            assert second.published != first.published
            assert _wait_for(lambda: app.state.engine.current.build_id == second.published,
                             timeout=60), app.state.engine.last_reload_error
            time.sleep(0.3)
            stop.set()
            for f in futures:
                f.result(timeout=120)
    failed = [r for r in results if r[0] != 200]
    assert not failed, f"{len(failed)} of {len(results)} failed: {failed[:3]}"
    assert {first.published, second.published} <= {b for _, b in results}
    copied = settings.bundles_dir / second.published / BUNDLE_USER_DICT
    assert "散热结构" in copied.read_text(encoding="utf-8")
    # the bundle keeps working after the operator edits the file again (its own copy)
    user_dict.write_text("", encoding="utf-8")
    from api.live import LiveEngine

    LiveEngine(settings)._load_snapshot(settings.bundles_dir / second.published)
