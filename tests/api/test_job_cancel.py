"""Jobs can be cancelled (API and CLI), leave no input behind, and keep their files 0600."""

from __future__ import annotations

import io
import stat
import threading

import pytest

from tests.api.conftest import hdr

CSV = "id,text\nQ1,锂离子电池低温续航衰减\nQ2,光伏组件清洗机器人\n".encode()


@pytest.fixture()
def settings(db_settings):
    """Every test here runs on SQLite and on PostgreSQL: the jobs table is in the database."""
    return db_settings


def _submit(client, key, data=CSV, name="demands.csv"):
    return client.post("/v1/jobs/match", files={"file": (name, io.BytesIO(data))},
                       headers=hdr(key))


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cancel_a_running_job_deletes_its_files(client, keys, engine, settings):
    started, release = threading.Event(), threading.Event()

    def slow(input_path, output_path, **kw):
        assert _mode(input_path) == 0o600 and _mode(input_path.parent) == 0o700
        started.set()
        release.wait(10)
        output_path.write_text("demand_id\n", encoding="utf-8")
        return 1

    engine.batch_fn = slow
    k = keys["analyst"]
    jid = _submit(client, k).json()["job_id"]
    assert started.wait(10)
    other, _ = client.app.state.keys.create("analyst2", "analyst")
    assert client.delete(f"/v1/jobs/{jid}", headers=hdr(other)).status_code == 404
    r = client.delete(f"/v1/jobs/{jid}", headers=hdr(k))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    release.set()
    client.app.state.jobs.futures[jid].result(timeout=10)
    job = client.get(f"/v1/jobs/{jid}", headers=hdr(k)).json()
    assert job["status"] == "cancelled" and job["result_url"] is None
    assert not (settings.jobs_dir / jid).exists()
    # cancelling again is harmless; a finished job cannot be cancelled
    assert client.delete(f"/v1/jobs/{jid}", headers=hdr(k)).status_code == 200


def test_finished_job_keeps_only_a_private_result(client, keys, engine, settings):
    k = keys["analyst"]
    jid = _submit(client, k).json()["job_id"]
    client.app.state.jobs.futures[jid].result(timeout=30)
    folder = settings.jobs_dir / jid
    assert [p.name for p in folder.iterdir()] == ["result.csv"]  # the input is gone
    assert _mode(folder / "result.csv") == 0o600
    r = client.delete(f"/v1/jobs/{jid}", headers=hdr(k))
    assert r.status_code == 409 and r.json()["details"]["status"] == "succeeded"


def test_progress_cancels_between_rows(client, keys, engine, settings):
    """The fake engine reports progress per row: cancelling stops it at the next row."""
    k = keys["analyst"]
    seen: list[float] = []
    orig = client.app.state.jobs._set

    def spy(job_id, **fields):
        if "progress" in fields and fields.get("status") is None:
            seen.append(fields["progress"])
            if len(seen) == 1:
                from api.jobs import cancel_job
                cancel_job(client.app.state.db, job_id, "test")
        return orig(job_id, **fields)

    client.app.state.jobs._set = spy
    rows = "id,text\n" + "".join(f"Q{i},锂电池低温续航{i}\n" for i in range(20))
    jid = _submit(client, k, data=rows.encode()).json()["job_id"]
    client.app.state.jobs.futures[jid].result(timeout=30)
    assert len(seen) == 1  # stopped at the next progress step, not after 20 rows
    assert client.get(f"/v1/jobs/{jid}", headers=hdr(k)).json()["status"] == "cancelled"
    assert not (settings.jobs_dir / jid).exists()


def test_cli_cancel(client, keys, engine, settings):
    from typer.testing import CliRunner

    from api.cli import app as cli

    started, release = threading.Event(), threading.Event()
    engine.batch_fn = lambda *a, **kw: (started.set(), release.wait(10), 0)[2]
    jid = _submit(client, keys["analyst"]).json()["job_id"]
    assert started.wait(10)
    r = CliRunner().invoke(cli, ["jobs", "cancel", jid])
    assert r.exit_code == 0, r.output
    assert "已取消" in r.output
    release.set()
    client.app.state.jobs.futures[jid].result(timeout=10)
    assert CliRunner().invoke(cli, ["jobs", "cancel", "job-20260101-000000000000"]).exit_code != 0
    r = CliRunner().invoke(cli, ["jobs", "list"])
    assert jid in r.output and "cancelled" in r.output


def test_delete_garbage_job_ids(client, keys):
    k = keys["analyst"]
    for bad in ("x", "job-1", "job-20260101-zzzzzzzzzzzz", "%00", "../../etc"):
        assert client.delete(f"/v1/jobs/{bad}", headers=hdr(k)).status_code in (404, 405)


def test_failed_job_leaves_no_input(client, keys, engine, settings):
    """A job that fails midway deletes its input too (the end of a job, however it ends)."""
    def broken(input_path, output_path, **kw):
        assert input_path.exists()
        raise RuntimeError("disk went away")

    engine.batch_fn = broken
    k = keys["analyst"]
    jid = _submit(client, k).json()["job_id"]
    client.app.state.jobs.futures[jid].result(timeout=30)
    assert client.get(f"/v1/jobs/{jid}", headers=hdr(k)).json()["status"] == "failed"
    folder = settings.jobs_dir / jid
    left = [p.name for p in folder.iterdir()] if folder.exists() else []
    assert not [n for n in left if n.startswith("input")], left
