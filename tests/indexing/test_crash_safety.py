"""SIGKILL a build/publish at every stage; run two nightly rebuilds at once.

Each scenario runs the real build code in a subprocess (``tests/indexing/_bundle_fakes.py``
as a script) with ``PATMATCH_TEST_CRASH_AT=<stage>``, then checks that the current bundle
is unchanged and loadable, and that the next build cleans up and succeeds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexing.index.bundle import POINTER, IndexBundle, current_build_id, current_bundle_path
from indexing.build.publish import list_bundles, publish, verify
from patmatch.settings import Settings
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeStore, FakeTokenizer, make_records,
)

REPO = Path(__file__).resolve().parents[2]
CRASH_STAGES = ("tokenize", "encode", "bm25", "faiss", "manifest", "publish")


def run(home: Path, *args: str, crash: str | None = None, extra_env: dict | None = None,
        wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {**os.environ, "PATMATCH_HOME": str(home), **(extra_env or {})}
    env.pop("PATMATCH_TEST_CRASH_AT", None)
    if crash:
        env["PATMATCH_TEST_CRASH_AT"] = crash
    cmd = [sys.executable, "-m", "tests.indexing._bundle_fakes", *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def snapshot(settings: Settings) -> tuple[str, bytes, dict[str, bytes]]:
    path = current_bundle_path(settings)
    files = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    return current_build_id(settings), (settings.bundles_dir / POINTER).read_bytes(), files


def test_sigkill_at_every_stage_leaves_current_intact(settings: Settings) -> None:
    pats, dems = make_records(120, 30)
    first = publish(settings, _build(settings, pats, dems))
    for stage in CRASH_STAGES:
        before = snapshot(settings)
        res = run(settings.home, "build+publish", "200", "7", crash=stage)
        assert res.returncode == -signal.SIGKILL, (stage, res.stderr[-2000:])
        assert snapshot(settings) == before, stage  # pointer and every byte unchanged
        b = IndexBundle.load(current_bundle_path(settings))  # checksums verified
        assert b.build_id == before[0]
        assert verify(settings)["ok"]
        leftovers = list(settings.staging_dir.glob(".*.partial-*"))
        assert leftovers or stage in ("publish",), stage  # genuinely half-written
        # the next build cleans the dead process's partial directory and succeeds
        nxt = publish(settings, _build(settings, pats, dems), force=True)
        assert current_build_id(settings) == nxt != before[0]
        assert list(settings.staging_dir.glob(".*.partial-*")) == []
        assert not [r for r in list_bundles(settings) if r["state"] == "broken"]
    assert first != current_build_id(settings)
    res = run(settings.home, "build+publish", "60", "3")  # and an uncrashed subprocess
    assert res.returncode == 0, res.stderr[-2000:]
    assert current_build_id(settings) == json.loads(res.stdout.splitlines()[-1])["build_id"]


def _build(settings: Settings, pats, dems) -> str:  # noqa: ANN001
    from indexing.build.pipeline import build

    return build(FakeStore(pats, dems), settings, tokenizer=FakeTokenizer(),
                 encoder=FakeEncoder(), labeler=FakeLabeler())


def test_crash_during_publish_then_republish(settings: Settings) -> None:
    pats, dems = make_records(40, 10)
    publish(settings, _build(settings, pats, dems))
    cur = current_build_id(settings)
    res = run(settings.home, "build+publish", "50", "1", crash="publish")
    assert res.returncode == -signal.SIGKILL
    assert current_build_id(settings) == cur
    moved = [r["build_id"] for r in list_bundles(settings) if r["state"] == "published"]
    assert len(moved) == 1  # moved in, never made current
    assert publish(settings, moved[0]) == moved[0]  # finishing the publish works
    assert verify(settings)["ok"]


def test_two_concurrent_nightly_runs(settings: Settings) -> None:
    from indexing.store.record_store import open_store

    pats, dems = make_records(60, 12)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)
    slow = run(settings.home, "nightly", wait=False, extra_env={"FAKE_ENCODER_SLEEP": "0.5"})
    lock = settings.home / "nightly.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the slow run owns the lock
        if lock.exists() and lock.read_text().strip() == str(slow.pid):
            break
        assert slow.poll() is None, slow.communicate()
        time.sleep(0.05)
    else:
        pytest.fail("the first nightly run never took the lock")
    second = run(settings.home, "nightly")
    assert second.returncode == 4, second.stderr[-2000:]
    assert json.loads(second.stdout.splitlines()[-1])["status"] == "locked"
    waiting = run(settings.home, "nightly", "0", "0", "--wait", wait=False)
    out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0, err[-2000:]
    first_id = json.loads(out.splitlines()[-1])["published"]
    out2, err2 = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err2[-2000:]
    assert json.loads(out2.splitlines()[-1])["status"] == "ok"  # ran after, not alongside
    cur = current_build_id(settings)
    assert cur != first_id and IndexBundle.load(current_bundle_path(settings)).build_id == cur
    lines = (settings.logs_dir / "nightly.log").read_text().splitlines()
    assert [ln.split()[2] for ln in lines] == ["status=locked", "status=ok", "status=ok"]
