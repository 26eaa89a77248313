"""``patmatch ingest transfers FILE...`` and ``patmatch transfers sync|summary``."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors

transfers_app = typer.Typer(help="专利转化事件（转让/许可/开放许可/作价入股/质押）。",
                            no_args_is_help=True)

_FILES = typer.Argument(..., help="CSV（UTF-8/带 BOM/GBK/GB18030）、XLSX、JSONL 或 Parquet 文件。")


@cli_errors
def ingest_transfers_cmd(
    files: list[Path] = _FILES,
    rejects_dir: Path | None = typer.Option(None, "--rejects-dir",
                                            help="拒收文件的目录（默认 <PATMATCH_HOME>/rejects）。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只校验和计数，不入库。"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出报告（键名为英文，供程序读取）。"),
) -> None:
    """导入专利转让、许可、质押等事件（国知局公告、平台成交）。"""
    import json

    from indexing.intake.transfers import PatentIndex, ingest_transfers
    from indexing.store.record_store import open_store
    from indexing.store.tables_transfers import open_transfers
    from patmatch.settings import get_settings

    settings = get_settings()
    with open_store(settings) as store:
        patents = PatentIndex.from_store(store)
    repo = open_transfers(settings)
    report = ingest_transfers(files, repo, patents=patents, dry_run=dry_run,
                              rejects_dir=rejects_dir or settings.home / "rejects")
    total = repo.count()
    if as_json:
        typer.echo(json.dumps(report.to_dict() | {"stored": total}, ensure_ascii=False, indent=2))
        return
    from api.cli.ingest_text import report_lines

    for line in report_lines(report, kind="transfers", store_line=f"库中现有转化事件 {total} 条"):
        typer.echo(line)


@transfers_app.command("sync")
@cli_errors
def sync_cmd() -> None:
    """Import the deals recorded through the platform's feedback as events of source platform."""
    from api.reports.transfer_sync import sync_platform_deals
    from patmatch.settings import get_settings

    got = sync_platform_deals(get_settings())
    typer.echo(got.message)


def register(app: typer.Typer) -> None:
    from api.cli.data import ingest_app

    ingest_app.command("transfers")(ingest_transfers_cmd)
    app.add_typer(transfers_app, name="transfers")
