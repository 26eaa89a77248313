"""``patmatch db upgrade|current|heads``: the schema of the one database.

The database is ``PATMATCH_DATABASE_URL`` (default: SQLite at <PATMATCH_HOME>/store.sqlite3).
Opening the store upgrades it too; ``db upgrade`` is the explicit step for a release (and
reports what moved from an old ``api.sqlite3``).
"""

from __future__ import annotations

import time

import typer

from api.cli.common import cli_errors

db_app = typer.Typer(help="数据库结构（Alembic 迁移）：升级、查看当前版本。", no_args_is_help=True)


def _engine():  # noqa: ANN202
    from indexing.store.database import create_db_engine, database_url
    from patmatch.settings import get_settings

    return create_db_engine(database_url(get_settings()))


def _shown_url() -> str:
    from sqlalchemy.engine import make_url

    from indexing.store.database import database_url
    from patmatch.settings import get_settings

    return make_url(database_url(get_settings())).render_as_string(hide_password=True)


@db_app.command("upgrade")
@cli_errors
def upgrade(revision: str = typer.Argument("head", help="目标版本（默认最新）。")) -> None:
    """把数据库升级到最新结构（原地升级，不丢失任何行）。"""
    from indexing.store import schema
    from patmatch.settings import get_settings

    engine = _engine()
    try:
        t0 = time.perf_counter()
        result = schema.upgrade(engine, revision=revision,
                                legacy_api_db=get_settings().home / schema.LEGACY_API_DB)
        seconds = time.perf_counter() - t0
    finally:
        engine.dispose()
    before = ", ".join(result.before) or "（空库或旧版本库）"
    typer.echo(f"数据库 {_shown_url()}")
    typer.echo(f"  版本：{before} → {', '.join(result.after)}（{seconds:.2f} 秒）")
    for table, n in result.moved_rows.items():
        typer.echo(f"  从旧文件 api.sqlite3 迁入 {table}：{n} 行")


@db_app.command("current")
@cli_errors
def current() -> None:
    """显示数据库当前的结构版本和代码的最新版本。"""
    from indexing.store import schema

    engine = _engine()
    try:
        now = schema.current_revisions(engine)
    finally:
        engine.dispose()
    heads = schema.head_revisions()
    typer.echo(f"数据库 {_shown_url()}")
    typer.echo(f"  当前版本：{', '.join(now) or '（未初始化）'}")
    typer.echo(f"  最新版本：{', '.join(heads)}")
    if now != heads:
        typer.echo("  需要升级：运行 patmatch db upgrade")


@db_app.command("heads")
def heads() -> None:
    """列出迁移脚本的最新版本（应只有一个）。"""
    from indexing.store import schema

    for h in schema.head_revisions():
        typer.echo(h)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
