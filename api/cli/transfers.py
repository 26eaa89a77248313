"""``patmatch ingest transfers FILE...`` and ``patmatch transfers sync|summary``."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors

transfers_app = typer.Typer(help="专利转化事件（转让/许可/开放许可/作价入股/质押）。",
                            no_args_is_help=True)

_FILES = typer.Argument(..., help="CSV (UTF-8/BOM/GBK/GB18030), XLSX, JSONL or Parquet files.")


@cli_errors
def ingest_transfers_cmd(
    files: list[Path] = _FILES,
    rejects_dir: Path | None = typer.Option(None, "--rejects-dir",
                                            help="Rejects CSV (default <PATMATCH_HOME>/rejects)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count only."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Ingest transfer / licence / pledge events (CNIPA notices, platform deals)."""
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
    head = "dry run (nothing stored): " if dry_run else ""
    typer.echo(f"{head}transfers: {report.equation()}")
    typer.echo(f"  duplicates = {report.repeated_ids} repeated events in the input + "
               f"{report.unchanged} already stored unchanged")
    if report.rejects_path:
        typer.echo(f"  rejects and duplicates written to {report.rejects_path}")
    typer.echo(f"  store now holds {total} transfer events ({report.seconds:.1f} s)")


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
