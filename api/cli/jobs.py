"""``patmatch jobs``: list and cancel the API's batch jobs from the server's own machine."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import cli_errors

jobs_app = typer.Typer(help="Batch jobs of the API (the same table the service uses).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")


def _db():
    from api.db import open_api_db
    from patmatch.settings import get_settings

    return open_api_db(get_settings())


@jobs_app.command("cancel")
@cli_errors
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="the job id, e.g. "
                                                          "job-20261124-0123456789ab")]) -> None:
    """Cancel a queued or running job; the worker running it stops at its next block and
    deletes the job's files."""
    from api.jobs import cancel_job

    db = _db()
    try:
        cancel_job(db, job_id, "patmatch jobs cancel")
    finally:
        db.close()
    typer.echo(f"已取消任务 {job_id}（运行中的任务在下一批次处停止并删除其文件）")


@jobs_app.command("list")
@cli_errors
def jobs_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The newest jobs: id, status, progress."""
    from sqlalchemy import select

    from indexing.store.tables_api import jobs as t

    db = _db()
    try:
        rows = db.rows(select(t.c.job_id, t.c.status, t.c.progress, t.c.updated_at, t.c.error)
                       .order_by(t.c.created_at.desc()).limit(limit))
    finally:
        db.close()
    if not rows:
        typer.echo("没有任务", err=True)
        return
    for r in rows:
        typer.echo(f"{r['job_id']}  {r['status']:<10}{r['progress'] * 100:5.1f}%  "
                   f"{r['updated_at'][:19]}  {r['error'] or ''}")
