"""Batch jobs: an uploaded demand file matched by ``matcher.batch`` (via the engine), and
index rebuilds. One job at a time per worker process (a thread), state in the ``jobs``
table of the one database so any worker can answer ``GET /v1/jobs/{id}``; files under
``<home>/jobs/<job_id>/``. A job whose process died is reported as failed on restart.

Personal data: the uploaded input is written 0600 in a 0700 folder and deleted when the
job ends, however it ends; a failed or cancelled job leaves no files; the result (masked
by the batch) is 0600. ``DELETE /v1/jobs/{id}`` (or ``patmatch jobs cancel``) marks a job
cancelled in the shared table; the worker running it sees that at its next progress step
(each block of queries) and stops.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import psutil
from sqlalchemy import func, insert, select, update

from indexing.store.database import lock_row
from indexing.store.tables_api import jobs as jobs_table

from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConflictError, InputError, NotFoundError, PatmatchError

from api.db import ApiDB
from api.metrics import Metrics
from api.security import Principal, utcnow
from api.services.contracts import ServingEngine

log = logging.getLogger("patmatch.api.jobs")

INPUT_SUFFIXES = (".csv", ".xlsx", ".jsonl", ".parquet", ".tsv")
OUTPUT_FORMATS = ("csv", "xlsx", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


FINISHED = ("succeeded", "failed", "cancelled")


class JobCancelled(Exception):  # noqa: N818 - a signal between the job's own frames
    """Raised from the progress callback of a job whose row says ``cancelled``."""


def cancel_job(db: ApiDB, job_id: str, by: str) -> str:
    """Mark a queued or running job cancelled; returns its status afterwards.

    Raises NotFoundError for an unknown id and ConflictError for a finished job."""
    with db.write() as conn:
        row = lock_row(conn, jobs_table, {"job_id": job_id})
        if row is None:
            raise NotFoundError(f"job '{job_id}' not found", details={"job_id": job_id})
        if row.status in FINISHED:
            if row.status == "cancelled":
                return "cancelled"
            raise ConflictError(f"job '{job_id}' has already finished ({row.status}); "
                                "nothing to cancel",
                                details={"job_id": job_id, "status": row.status})
        conn.execute(update(jobs_table).where(jobs_table.c.job_id == job_id)
                     .values(status="cancelled", error=f"cancelled by {by}", updated_at=utcnow()))
    return "cancelled"


class JobManager:
    def __init__(self, db: ApiDB, engine: ServingEngine, jobs_dir: Path, metrics: Metrics) -> None:
        self.db, self.engine, self.jobs_dir, self.metrics = db, engine, Path(jobs_dir), metrics
        self._pool: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future] = {}
        self._fail_orphans()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _submit(self, job_id: str, fn: Any, *args: Any) -> None:
        # created on first use (and again after a lifespan shutdown in the same process)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patmatch-job")
        self.futures[job_id] = self._pool.submit(fn, job_id, *args)

    # --- submission -------------------------------------------------------------------
    def submit_match(self, principal: Principal, filename: str, stream: BinaryIO, *,
                     top_k: int, chains: tuple[str, ...], direction: str, fmt: str) -> dict:
        suffix = Path(filename or "").suffix.lower()
        if suffix not in INPUT_SUFFIXES:
            raise InputError(f"upload a demand file ending in {', '.join(INPUT_SUFFIXES)}; "
                             f"got '{filename}'", details={"filename": filename})
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"format must be one of {', '.join(OUTPUT_FORMATS)}; got '{fmt}'")
        job_id = self._new_id()
        folder = self.jobs_dir / job_id
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.mkdir(mode=0o700)
        input_path = folder / f"input{suffix}"
        fd = os.open(input_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        if input_path.stat().st_size == 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise InputError("the uploaded file is empty", details={"filename": filename})
        params = {"top_k": top_k, "chains": list(chains), "direction": direction,
                  "format": fmt, "filename": filename}
        self._insert(job_id, "match", principal, params, filename)
        out_path = folder / f"result.{fmt}"
        self._submit(job_id, self._run_match, input_path, out_path, params)
        return self.get(job_id, principal)

    def submit_rebuild(self, principal: Principal) -> dict:
        job_id = self._new_id()
        self._insert(job_id, "rebuild", principal, {}, None)
        self._submit(job_id, self._run_rebuild)
        return self.get(job_id, principal)

    # --- reading ----------------------------------------------------------------------
    def get(self, job_id: str, principal: Principal) -> dict:
        rows = self.db.rows(select(jobs_table).where(jobs_table.c.job_id == job_id))
        if not rows or not self._may_see(principal, rows[0]):
            raise NotFoundError(f"job '{job_id}' not found", details={"job_id": job_id})
        return self._out(rows[0])

    def list(self, principal: Principal, *, limit: int, offset: int) -> tuple[int, list[dict]]:
        t = jobs_table
        conds = [] if principal.role == "operator" else [t.c.key_id == principal.key_id]
        total = self.db.scalar(select(func.count()).select_from(t).where(*conds))
        rows = self.db.rows(select(t).where(*conds).order_by(t.c.created_at.desc(), t.c.job_id)
                            .limit(limit).offset(offset))
        return int(total), [self._out(r) for r in rows]

    def result_path(self, job_id: str, principal: Principal) -> tuple[Path, str]:
        job = self.get(job_id, principal)
        if job["status"] != "succeeded" or job["kind"] != "match":
            raise NotFoundError(f"job '{job_id}' has no result yet (status {job['status']})",
                                details={"job_id": job_id, "status": job["status"]})
        fmt = job["params"].get("format", "csv")
        path = self.jobs_dir / job_id / f"result.{fmt}"
        if not path.exists():
            raise NotFoundError(f"the result file of job '{job_id}' is gone",
                                details={"job_id": job_id})
        return path, fmt

    def cancel(self, job_id: str, principal: Principal) -> dict:
        self.get(job_id, principal)  # 404 for jobs this key may not see
        cancel_job(self.db, job_id, principal.name)
        fut = self.futures.get(job_id)
        if fut is not None:
            fut.cancel()  # a queued job never starts; a running one stops at its next block
        return self.get(job_id, principal)

    # --- execution --------------------------------------------------------------------
    def _status(self, job_id: str) -> str | None:
        return self.db.scalar(select(jobs_table.c.status).where(jobs_table.c.job_id == job_id))

    def _run_match(self, job_id: str, input_path: Path, out_path: Path, params: dict) -> None:
        folder = input_path.parent
        if self._status(job_id) == "cancelled":
            shutil.rmtree(folder, ignore_errors=True)
            return
        self._set(job_id, status="running")
        tmp = out_path.with_name(f".tmp-{out_path.name}")

        def progress(fraction: float) -> None:
            # refused once the job was cancelled (by any worker): stop at this block
            if not self._set(job_id, progress=max(0.0, min(1.0, float(fraction)))):
                raise JobCancelled(job_id)

        ok = False
        try:
            rows = self.engine.run_batch(input_path, tmp, top_k=params["top_k"],
                                         chains=tuple(params["chains"]),
                                         direction=params["direction"], progress=progress)
            if self._status(job_id) == "cancelled":
                raise JobCancelled(job_id)
            os.chmod(tmp, 0o600)
            atomic_rename(tmp, out_path)
            if not self._finish(job_id, "succeeded", rows=rows):
                raise JobCancelled(job_id)  # cancelled between the check and the finish
            ok = True
        except JobCancelled:
            log.info("job %s cancelled", job_id)
        except Exception as exc:  # a job failure is reported in the job, never raised
            if self._status(job_id) != "cancelled":
                self._finish(job_id, "failed", error=_describe(exc))
        finally:
            # the upload holds records as given: it never outlives its job
            input_path.unlink(missing_ok=True)
            if not ok:
                shutil.rmtree(folder, ignore_errors=True)

    def _run_rebuild(self, job_id: str) -> None:
        if self._status(job_id) == "cancelled":
            return
        self._set(job_id, status="running")
        try:
            build_id = self.engine.rebuild()
            stored = self.db.scalar(select(jobs_table.c.params)
                                    .where(jobs_table.c.job_id == job_id))
            params = {**json.loads(stored), "build_id": build_id}
            self._set(job_id, params=json.dumps(params, ensure_ascii=False))
            self._finish(job_id, "succeeded")
        except Exception as exc:
            self._finish(job_id, "failed", error=_describe(exc))

    # --- plumbing ---------------------------------------------------------------------
    @staticmethod
    def _new_id() -> str:
        return f"job-{utcnow()[:10].replace('-', '')}-{secrets.token_hex(6)}"

    def _insert(self, job_id: str, kind: str, p: Principal, params: dict,
                input_name: str | None) -> None:
        now = utcnow()
        params = {**params, "kind": kind, "pid": os.getpid()}
        self.db.run(insert(jobs_table).values(
            job_id=job_id, key_id=p.key_id, status="queued",
            params=json.dumps(params, ensure_ascii=False), created_at=now, updated_at=now,
            input_name=input_name))

    def _set(self, job_id: str, **fields: Any) -> bool:
        """Change a job that has not finished (a conditional UPDATE: a cancel from another
        worker that lands first is never overwritten); False when it had finished."""
        fields["updated_at"] = utcnow()
        t = jobs_table
        return self.db.run(update(t).where(t.c.job_id == job_id,
                                           t.c.status.not_in(FINISHED)).values(**fields)) == 1

    def _finish(self, job_id: str, status: str, *, rows: int | None = None,
                error: str | None = None) -> bool:
        extra = {"progress": 1.0} if status == "succeeded" else {}
        if not self._set(job_id, status=status, rows=rows, error=error, **extra):
            return False
        self.metrics.jobs.labels(status=status).inc()
        if error:
            log.warning("job %s failed: %s", job_id, error)
        return True

    def _fail_orphans(self) -> None:
        t = jobs_table
        for r in self.db.rows(select(t.c.job_id, t.c.params)
                              .where(t.c.status.in_(("queued", "running")))):
            pid = json.loads(r["params"]).get("pid")
            if pid and pid != os.getpid() and psutil.pid_exists(pid):
                continue
            self._finish(r["job_id"], "failed", error="interrupted: the server restarted")

    @staticmethod
    def _may_see(p: Principal, row: Any) -> bool:
        return p.role == "operator" or row["key_id"] == p.key_id

    @staticmethod
    def _out(r: Any) -> dict:
        params = json.loads(r["params"])
        kind = params.pop("kind", "match")
        params.pop("pid", None)
        url = (f"/v1/jobs/{r['job_id']}/result"
               if r["status"] == "succeeded" and kind == "match" else None)
        return {"job_id": r["job_id"], "kind": kind, "status": r["status"],
                "progress": float(r["progress"]), "created_at": r["created_at"],
                "updated_at": r["updated_at"], "rows": r["rows"], "error": r["error"],
                "params": params, "result_url": url}


def _describe(exc: Exception) -> str:
    if isinstance(exc, PatmatchError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
