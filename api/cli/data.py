"""``patmatch ingest patents|demands FILE...`` and ``patmatch demo-data``."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors
from patmatch.errors import InputError

ingest_app = typer.Typer(
    help="把专利或需求文件（CSV/XLSX/JSONL/Parquet）导入数据库；不丢任何一行："
         "每条拒收的行都写入拒收文件（rejects CSV）。",
    no_args_is_help=True,
)

_FILES = typer.Argument(..., help="CSV（UTF-8/带 BOM/GBK/GB18030）、XLSX、JSONL 或 Parquet 文件。")
_REJECTS = typer.Option(None, "--rejects-dir",
                        help="拒收文件的目录（默认 <PATMATCH_HOME>/rejects）。")
_DRY = typer.Option(False, "--dry-run", help="只校验和计数，不入库。")
_JSON = typer.Option(False, "--json", help="以 JSON 输出报告（键名为英文，供程序读取）。")
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
    from api.cli.ingest_text import report_lines

    for line in report_lines(report, kind=kind, store_line=f"库中现有专利 {totals['patents']} "
                             f"条、需求 {totals['demands']} 条"):
        typer.echo(line)


@ingest_app.command("patents")
@cli_errors
def ingest_patents(files: list[Path] = _FILES, rejects_dir: Path | None = _REJECTS,
                   dry_run: bool = _DRY, as_json: bool = _JSON) -> None:
    """导入专利文件（必填：编号、标题、摘要；可用中文表头）。"""
    _run("patents", files, rejects_dir, dry_run, as_json)


@ingest_app.command("demands")
@cli_errors
def ingest_demands(files: list[Path] = _FILES, rejects_dir: Path | None = _REJECTS,
                   dry_run: bool = _DRY, as_json: bool = _JSON) -> None:
    """导入企业需求文件（必填：编号、需求描述）；联系方式加密存储。"""
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
    clean: bool = typer.Option(False, "--clean",
                               help="只生成有效行：不加入故意的坏行和重复导出的需求行（入库 0 拒收）。"),
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
    files = generate(out, n_patents=patents, n_demands=demands, seed=seed, n_transfers=transfers,
                     flawed=not clean)
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
