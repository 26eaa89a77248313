from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from indexing.build.pipeline import build
from indexing.index.bundle import IndexBundle, Manifest, current_build_id, current_bundle_path
from indexing.build.publish import file_lock, list_bundles, publish, rollback, verify
from patmatch.errors import (
    BundleIntegrityError, LockHeldError, NoBundleError, NotFoundError, QualityGateError,
)
from patmatch.settings import Settings
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeStore, FakeTokenizer, make_records,
)


def stage(settings: Settings, n: int = 30, seed: int = 0) -> str:
    pats, dems = make_records(n, 8, seed=seed)
    return build(FakeStore(pats, dems), settings, tokenizer=FakeTokenizer(),
                 encoder=FakeEncoder(), labeler=FakeLabeler())


def const(v: float):  # noqa: ANN201
    calls: list[Path] = []

    def ev(path: Path) -> dict[str, float]:
        calls.append(path)
        return {"ndcg@10": v, "recall@100": 0.9}

    ev.calls = calls  # type: ignore[attr-defined]
    return ev


def test_publish_moves_freezes_and_points(settings: Settings) -> None:
    bid = stage(settings)
    assert publish(settings, evaluator=const(0.5)) == bid  # newest staged by default
    path = current_bundle_path(settings)
    assert path == settings.bundles_dir / bid and not (settings.staging_dir / bid).exists()
    q = Manifest.read(path).quality
    assert q["gate"] == "passed" and q["ndcg@10"] == 0.5 and "evaluated" in q
    assert all(not (p.stat().st_mode & stat.S_IWUSR) for p in path.rglob("*") if p.is_file())
    assert IndexBundle.load(path).build_id == bid  # quality update kept checksums valid
    assert publish(settings, bid) == bid  # idempotent


def test_quality_gate_refuses_and_force_overrides(settings: Settings) -> None:
    first = stage(settings)
    publish(settings, first, evaluator=const(0.60))
    worse = stage(settings, seed=1)
    with pytest.raises(QualityGateError) as e:
        publish(settings, worse, evaluator=const(0.55))
    assert "0.5500" in e.value.message and "0.6000" in e.value.message
    assert e.value.exit_code == 6
    assert current_build_id(settings) == first and (settings.staging_dir / worse).exists()
    ok = const(0.595)  # within the default 0.01 tolerance
    assert publish(settings, worse, evaluator=ok) == worse
    assert len(ok.calls) == 1  # the baseline came from the current manifest
    third = stage(settings, seed=2)
    publish(settings, third, evaluator=const(0.1), force=True)
    q = Manifest.read(settings.bundles_dir / third).quality
    assert q["gate"] == "forced" and q["ndcg@10"] == 0.1 and q["baseline"] == 0.595


def test_gate_evaluates_current_when_it_has_no_figure(settings: Settings) -> None:
    first = stage(settings)
    publish(settings, first)  # no evaluator: gate skipped, recorded
    assert Manifest.read(settings.bundles_dir / first).quality["gate"] == "skipped"
    ev = const(0.3)
    publish(settings, stage(settings, seed=1), evaluator=ev)
    assert [p.name for p in ev.calls][1] == first


def test_rollback_and_history(settings: Settings) -> None:
    with pytest.raises(NoBundleError):
        rollback(settings)
    a = stage(settings)
    publish(settings, a)
    with pytest.raises(NotFoundError, match="only published"):
        rollback(settings)
    b = stage(settings, seed=1)
    publish(settings, b)
    c = stage(settings, seed=2)
    publish(settings, c)
    assert rollback(settings) == b and current_build_id(settings) == b
    assert rollback(settings) == a
    states = {r["build_id"]: r["state"] for r in list_bundles(settings)}
    assert states == {a: "current", b: "published", c: "published"}
    assert publish(settings, c) == c  # re-publishing an earlier bundle works
    assert json.loads((settings.bundles_dir / "CURRENT.json").read_text())["history"] == [a]


def test_keep_last_n_never_current_or_previous(home: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PATMATCH_KEEP_BUNDLES", "2")
    from patmatch.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    ids = []
    for i in range(4):
        ids.append(stage(settings, seed=i))
        publish(settings, ids[-1])
    published = sorted(p.name for p in settings.bundles_dir.iterdir() if p.is_dir())
    assert published == sorted(ids[-2:])
    assert rollback(settings) == ids[-2]  # current is now the older of the two
    e = stage(settings, seed=9)
    publish(settings, e)
    # keep 2 = the new current and the previous one, although a newer bundle existed
    assert sorted(p.name for p in settings.bundles_dir.iterdir() if p.is_dir()) == sorted(
        [ids[-2], e])
    assert rollback(settings) == ids[-2]


def test_verify_detects_corruption(settings: Settings) -> None:
    bid = stage(settings)
    publish(settings, bid)
    assert verify(settings)["ok"]
    victim = settings.bundles_dir / bid / "demands" / "vectors.npy"
    os.chmod(victim, 0o644)
    victim.write_bytes(victim.read_bytes()[:-8] + b"\0" * 8)
    res = verify(settings, bid)
    assert not res["ok"] and "demands/vectors.npy" in res["problems"][0]
    with pytest.raises(BundleIntegrityError):
        IndexBundle.load(current_bundle_path(settings))


def test_publish_refuses_corrupted_staged_build(settings: Settings) -> None:
    bid = stage(settings)
    (settings.staging_dir / bid / "patents" / "ids.txt").write_text("x")
    with pytest.raises(BundleIntegrityError, match="ids.txt"):
        publish(settings, bid)
    with pytest.raises(NotFoundError):
        publish(settings, "no-such-build")


def test_list_bundles_states(settings: Settings) -> None:
    assert list_bundles(settings) == []
    a = stage(settings)
    publish(settings, a, evaluator=const(0.4))
    b = stage(settings, seed=1)
    rows = {r["build_id"]: r for r in list_bundles(settings)}
    assert rows[a]["state"] == "current" and rows[a]["ndcg@10"] == 0.4
    assert rows[b]["state"] == "staged" and rows[b]["size_mb"] > 0


def test_file_lock_is_exclusive(tmp_path: Path) -> None:
    with file_lock(tmp_path / "l", wait=False):
        with pytest.raises(LockHeldError, match=str(os.getpid())):
            with file_lock(tmp_path / "l", wait=False):
                pass
    with file_lock(tmp_path / "l", wait=False):
        pass


def test_cli_publish_bundles_verify_rollback(settings: Settings) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    r = CliRunner()
    a, b = stage(settings), stage(settings, seed=1)
    res = r.invoke(app, ["publish", a])
    assert res.exit_code == 0 and f"已发布 {a}（质量门：" in res.output
    assert r.invoke(app, ["publish", b]).exit_code == 0
    out = r.invoke(app, ["bundles"]).output
    assert "当前" in out and "上一版" in out and b in out
    rows = json.loads(r.invoke(app, ["bundles", "--json"]).output)
    assert {x["build_id"]: x["state"] for x in rows} == {b: "current", a: "previous"}
    verified = r.invoke(app, ["verify"])
    assert verified.exit_code == 0 and f"索引包 {b} 校验通过" in verified.output
    res = r.invoke(app, ["rollback"])
    assert res.exit_code == 0 and f"已回滚：当前索引包为 {a}" in res.output
    victim = settings.bundles_dir / a / "patents" / "bm25_data.npy"
    os.chmod(victim, 0o644)
    victim.write_bytes(b"broken")
    res = r.invoke(app, ["verify", a])
    assert res.exit_code == 5 and "patents/bm25_data.npy" in res.output
    res = r.invoke(app, ["publish", "nope"])
    assert res.exit_code == 3 and "nope" in res.output


def test_evaluator_crash_fails_closed(settings: Settings) -> None:
    from patmatch.errors import BundleError

    publish(settings, stage(settings))
    cur = current_build_id(settings)

    def boom(_p: Path) -> dict[str, float]:
        raise ValueError("qrels has no header")

    with pytest.raises(BundleError, match="qrels has no header"):
        publish(settings, stage(settings, seed=1), evaluator=boom)
    assert current_build_id(settings) == cur
