"""``patmatch ingest patents|demands FILE...`` and ``patmatch demo-data``."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors
from patmatch.errors import InputError

ingest_app = typer.Typer(
    help="Load patents or demands (CSV/XLSX/JSONL/Parquet) into the store; nothing is lost: "
         "every rejected row goes to a rejects file.",
    no_args_is_help=True,
)

_FILES = typer.Argument(..., help="CSV (UTF-8/BOM/GBK/GB18030), XLSX, JSONL or Parquet files.")
_REJECTS = typer.Option(None, "--rejects-dir",
                        help="Where the rejects CSV goes (default: <PATMATCH_HOME>/rejects).")
_DRY = typer.Option(False, "--dry-run", help="Validate and count only; store nothing.")
_JSON = typer.Option(False, "--json", help="Print the report as JSON.")
_KIND_ZH = {"patents": "专利", "demands": "需求"}


def _run(kind: str, files: list[Path], rejects_dir: Path | None, dry_run: bool, as_json: bool) -> None:
    import json

    from indexing.intake.ingest import ingest_files
    from indexing.store.record_store import open_store
    from patmatch.settings import get_settings

    from api.cli.common import progress_bar

    settings = get_settings()
    store = open_store(settings)
    try:
        # counts records (the total grows as each file is read), with rate and ETA
        with progress_bar(0, f"入库 {_KIND_ZH[kind]}", unit="条") as bar:
            report = ingest_files(kind, files, store,  # type: ignore[arg-type]
                                  rejects_dir=rejects_dir or settings.home / "rejects",
                                  dry_run=dry_run,
                                  progress=lambda found, done: (bar.grow(found), bar(done)))
        totals = store.counts()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict() | {"store": totals}, ensure_ascii=False, indent=2))
        return
    head = "dry run (nothing stored): " if dry_run else ""
    typer.echo(f"{head}{kind}: {report.equation()}")
    typer.echo(f"  duplicates = {report.repeated_ids} repeated ids in the input + "
               f"{report.unchanged} already stored unchanged")
    if report.blank_rows:
        typer.echo(f"  blank rows skipped: {report.blank_rows}")
    for what, n in sorted(report.cleaned.items()):
        typer.echo(f"  {what.replace('_', ' ')}: {n} rows")
    if report.duplicate_texts:
        shown = ", ".join(f"{a}={b}" for a, b in report.duplicate_texts[:5])
        more = f" (+{len(report.duplicate_texts) - 5} more)" if len(report.duplicate_texts) > 5 else ""
        typer.echo(f"  same text under different ids: {len(report.duplicate_texts)}: {shown}{more}")
    if report.rejects_path:
        typer.echo(f"  rejects and duplicates written to {report.rejects_path}")
    typer.echo(f"  store now holds {totals['patents']} patents, {totals['demands']} demands "
               f"({report.seconds:.1f} s)")


@ingest_app.command("patents")
@cli_errors
def ingest_patents(files: list[Path] = _FILES, rejects_dir: Path | None = _REJECTS,
                   dry_run: bool = _DRY, as_json: bool = _JSON) -> None:
    """Ingest patent files (id, title, abstract required; Chinese headers accepted)."""
    _run("patents", files, rejects_dir, dry_run, as_json)


@ingest_app.command("demands")
@cli_errors
def ingest_demands(files: list[Path] = _FILES, rejects_dir: Path | None = _REJECTS,
                   dry_run: bool = _DRY, as_json: bool = _JSON) -> None:
    """Ingest enterprise demand files (id, text required); contacts are encrypted at rest."""
    _run("demands", files, rejects_dir, dry_run, as_json)


@cli_errors
def demo_data(
    patents: int = typer.Option(20000, "--patents", min=1, help="Number of patents."),
    demands: int = typer.Option(5000, "--demands", min=0, help="Number of demands."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same files)."),
    out: Path = typer.Option(Path("demo-data"), "--out", help="Output directory."),
    transfers: int = typer.Option(0, "--transfers", min=0,
                                  help="Transfer events over those patents (0: none)."),
    parquet_parts: int = typer.Option(0, "--parquet-parts", min=0,
                                      help="Benchmark scale: stream the patents as Parquet parts "
                                           "of this many rows (e.g. 100000 for --patents 1000000), "
                                           "demands.parquet and qrels.tsv; clean rows only."),
) -> None:
    """Generate realistic demo patents, SME demands and qrels.tsv (deterministic per seed)."""
    import time

    from indexing.training.demo_data import generate

    if parquet_parts:
        if transfers:
            raise InputError("--transfers is not available with --parquet-parts")
        from indexing.training.demo_data.stream import generate_parts

        from api.cli.common import progress_bar

        with progress_bar(patents, "生成专利", unit="条") as update:
            last = [0]

            def on_part(done: int, _total: int) -> None:
                update(done - last[0])
                last[0] = done

            res = generate_parts(out, patents, demands, seed=seed, part_rows=parquet_parts,
                                 on_part=on_part)
        typer.echo(f"wrote {patents} patents in {len(res.patent_files)} Parquet parts, {demands} "
                   f"demands and {res.n_qrels} judgements to {out} in {res.seconds:.1f} s")
        typer.echo(f"next: patmatch ingest patents {out}/patents-*.parquet")
        return
    t0 = time.perf_counter()
    files = generate(out, n_patents=patents, n_demands=demands, seed=seed, n_transfers=transfers)
    typer.echo(f"wrote {patents} patents, {demands} demands (+{files.n_repeated_demands} rows "
               f"exported twice) and {files.n_qrels} judgements to {out} "
               f"in {time.perf_counter() - t0:.1f} s")
    typer.echo(f"  deliberately bad rows: {files.n_bad_patents} patents, {files.n_bad_demands} "
               "demands (they show up in the rejects report)")
    for p in (*files.patent_files, *files.demand_files, files.qrels):
        typer.echo(f"  {p}")
    for p in files.transfer_files:
        typer.echo(f"  {p}")
    typer.echo(f"next: patmatch ingest patents {' '.join(str(p) for p in files.patent_files)}")
    if files.transfer_files:
        typer.echo(f"then: patmatch ingest transfers {' '.join(str(p) for p in files.transfer_files)}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(ingest_app, name="ingest")
    app.command("demo-data")(demo_data)
