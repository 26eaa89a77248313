"""Batch match jobs: upload, poll, download; errors; who may see a job."""

from __future__ import annotations

import io

import pytest

from tests.api.conftest import hdr

CSV = "id,text\nQ1,锂离子电池低温续航衰减\nQ2,光伏组件清洗机器人\n".encode()


@pytest.fixture()
def settings(db_settings):
    """Every test here runs on SQLite and on PostgreSQL: the jobs table is in the database."""
    return db_settings


def _submit(client, key, data=CSV, name="demands.csv", **form):
    return client.post("/v1/jobs/match", files={"file": (name, io.BytesIO(data))},
                       data={k: str(v) for k, v in form.items()}, headers=hdr(key))


def _wait(client, jid):
    client.app.state.jobs.futures[jid].result(timeout=30)


def test_job_roundtrip(client, keys):
    r = _submit(client, keys["analyst"], top_k=1)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "succeeded") and job["kind"] == "match"
    _wait(client, job["job_id"])
    job = client.get(f"/v1/jobs/{job['job_id']}", headers=hdr(keys["analyst"])).json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["rows"] == 2
    r = client.get(job["result_url"], headers=hdr(keys["analyst"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines() == ["demand_id,rank,patent_id,score", "Q1,1,P-BAT-1,0.9",
                                   "Q2,1,P-PV-1,1.0"]
    listed = client.get("/v1/jobs", headers=hdr(keys["analyst"])).json()
    assert listed["total"] == 1
    # another analyst's job is "not found"; operators see every job
    other, _ = client.app.state.keys.create("analyst2", "analyst")
    assert client.get(f"/v1/jobs/{job['job_id']}", headers=hdr(other)).status_code == 404
    assert client.get(job["result_url"], headers=hdr(other)).status_code == 404
    assert client.get(f"/v1/jobs/{job['job_id']}", headers=hdr(keys["operator"])).status_code == 200


def test_job_chain_filter_and_scope(client, keys, engine):
    r = _submit(client, keys["operator"], chain="pv", top_k=5)
    _wait(client, r.json()["job_id"])
    out = client.get(f"/v1/jobs/{r.json()['job_id']}/result", headers=hdr(keys["operator"]))
    assert {ln.split(",")[2] for ln in out.text.splitlines()[1:]} == {"P-PV-1"}
    assert _submit(client, keys["centre_a"]).status_code == 403
    assert _submit(client, keys["broker"]).status_code == 403
    assert _submit(client, keys["operator"], chain="nope").status_code == 404


def test_job_errors(client, keys, engine):
    k = keys["analyst"]
    r = _submit(client, k, name="demands.exe")
    assert r.status_code == 400 and ".csv" in r.json()["message"]
    assert _submit(client, k, data=b"").status_code == 400
    assert _submit(client, k, format="pdf").status_code == 422
    assert _submit(client, k, top_k=0).status_code == 422

    def broken(*a, **kw):
        from patmatch.errors import MissingColumnError
        raise MissingColumnError("missing required column 'text' (tried 需求描述, 内容)")

    engine.batch_fn = broken
    r = _submit(client, k)
    _wait(client, r.json()["job_id"])
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=hdr(k)).json()
    assert job["status"] == "failed" and "missing required column" in job["error"]
    r = client.get(f"/v1/jobs/{job['job_id']}/result", headers=hdr(k))
    assert r.status_code == 404 and "failed" in r.json()["message"]


def test_orphaned_jobs_fail_on_restart(settings, engine, keys, app):
    from api.jobs import JobManager

    jobs = app.state.jobs
    p = app.state.keys.verify(keys["analyst"])
    jobs._insert("job-orphan", "match", p, {"format": "csv"}, "x.csv")
    from indexing.store.tables_api import jobs as t

    jobs.db.run(t.update().where(t.c.job_id == "job-orphan")
                .values(params='{"kind": "match", "pid": 999999999, "format": "csv"}'))
    JobManager(jobs.db, engine, settings.jobs_dir, app.state.metrics)
    assert jobs.get("job-orphan", p)["status"] == "failed"


def test_upload_over_the_limit_is_413(home):
    from fastapi.testclient import TestClient

    from patmatch.settings import Settings

    from api.main import create_app
    from tests.api.conftest import make_engine

    small = Settings(home=home, api_max_body_bytes=2000)
    app = create_app(small, engine=make_engine(small), reload_interval=0)
    key, _ = app.state.keys.create("a", "analyst")
    big = ("id,text\n" + "Q1,锂电池低温续航衰减\n" * 200).encode()
    with TestClient(app) as c:
        r = _submit(c, key, data=big)
        assert r.status_code == 413 and r.json()["code"] == "input.too_large"
        assert _submit(c, key).status_code == 202  # a small one still goes through
        # the refused upload left no job behind
        # (one folder: the accepted job's; its input is deleted once it ends)
        assert len([p for p in small.jobs_dir.iterdir() if p.is_dir()]) == 1
