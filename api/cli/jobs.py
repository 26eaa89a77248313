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
    from api.db import ApiDB, api_db_path
    from patmatch.settings import get_settings

    return ApiDB(api_db_path(get_settings().home))


@jobs_app.command("cancel")
@cli_errors
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="the job id, e.g. "
                                                          "job-20261124-0123456789ab")]) -> None:
    """Cancel a queued or running job; the worker running it stops at its next block and
    deletes the job's files."""
    from api.jobs import cancel_job

    cancel_job(_db(), job_id, "patmatch jobs cancel")
    typer.echo(f"已取消任务 {job_id}（运行中的任务在下一批次处停止并删除其文件）")


@jobs_app.command("list")
@cli_errors
def jobs_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The newest jobs: id, status, progress."""
    rows = _db().query("SELECT job_id, status, progress, updated_at, error FROM jobs "
                       "ORDER BY created_at DESC LIMIT ?", (limit,))
    if not rows:
        typer.echo("没有任务", err=True)
        return
    for r in rows:
        typer.echo(f"{r['job_id']}  {r['status']:<10}{r['progress'] * 100:5.1f}%  "
                   f"{r['updated_at'][:19]}  {r['error'] or ''}")
