"""`patmatch report`: transfer statistics reports (default: 年度专利转化统计分析报告) and the
platform's supply/demand report (``--type supply-demand``, 供需对接统计报告)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from api.cli.common import cli_errors

SUPPLY_DEMAND = ("supply-demand", "supply_demand", "供需", "供需对接")


def register(app: typer.Typer) -> None:
    @app.command("report")
    @cli_errors
    def report_cmd(
        type_: Optional[str] = typer.Option(
            None, "--type", help="annual (default) | quarterly | chain | institution | flow | "
                                 "supply-demand; 中文：年度/季度/产业链/高校院所/流向/供需"),
        period: Optional[str] = typer.Option(
            None, "--period", help="2025 | 2025Q3 | 2025-07 (default: this year / quarter)."),
        region: Optional[str] = typer.Option(None, "--region", help="辖区：省/市/区县，如 常州市、武进区"),
        chain: Optional[str] = typer.Option(None, "--chain", help="产业链 id 或名称（产业链专题）"),
        fmt: Optional[str] = typer.Option(None, "--format",
                                          help="html | xlsx | md | json | png (default from --out)"),
        start: Optional[str] = typer.Option(None, "--from", help="supply-demand: first day (ISO)."),
        end: Optional[str] = typer.Option(None, "--to", help="supply-demand: last day (ISO)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Also write the report here."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Transfer statistics reports with charts, archived in <home>/reports/ (the same
        type+period replaces the archived one); or the supply/demand report."""
        if (type_ or "").strip() in SUPPLY_DEMAND or (type_ is None and (start or end)):
            _supply_demand(start, end, out, as_json)
            return
        _transfer(type_, period, region, chain, fmt, out, as_json)


def _transfer(type_: str | None, period: str | None, region: str | None, chain: str | None,
              fmt: str | None, out: Path | None, as_json: bool) -> None:
    from api.reports import transfer_render
    from api.reports.transfer_archive import generate, reports_dir
    from patmatch.errors import InputError
    from patmatch.settings import get_settings

    if fmt is None and out is not None:
        fmt = out.suffix.lower().lstrip(".") or "html"
    fmt = (fmt or "html").lower()
    if fmt not in transfer_render.FORMATS:
        raise InputError(f"--format must be one of {', '.join(transfer_render.FORMATS)}, got "
                         f"{fmt!r}", details={"format": fmt})
    settings = get_settings()
    doc, meta = generate(settings, type_, period, region, chain)
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(f"{meta.title}（{meta.period_from} .. {meta.period_to}）")
    for h in doc["highlights"]:
        typer.echo(f"  {h}")
    typer.echo(f"已归档为 {meta.id}：{reports_dir(settings)}（指纹 {meta.fingerprint}）")
    if out is not None:
        typer.echo(f"已写入 {transfer_render.write(doc, fmt, out)}")


def _supply_demand(start: str | None, end: str | None, out: Path | None, as_json: bool) -> None:
    from indexing.store.stats import Period
    from patmatch.errors import InputError
    from patmatch.atomic_io import PRIVATE, atomic_write_text
    from api.reports.supply_demand import archive, build_report, render_markdown, write_xlsx
    from patmatch.settings import get_settings

    if out is not None and out.suffix.lower() not in (".md", ".json", ".xlsx"):
        raise InputError(f"--out must end in .md, .json or .xlsx, got {out.name!r}",
                         details={"out": str(out)})
    settings = get_settings()
    report = build_report(settings, Period.parse(start, end))
    paths = archive(settings, report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        suffix = out.suffix.lower()
        if suffix == ".xlsx":
            write_xlsx(report, out)
        else:
            body = (json.dumps(report, ensure_ascii=False, indent=2) if suffix == ".json"
                    else render_markdown(report))
            atomic_write_text(out, body, mode=PRIVATE)
        paths.append(out)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    p = report["period"]
    typer.echo(f"供需对接统计报告 {p['from']} 至 {p['to']}（{p['days']} 天）")
    for t in report["targets"]:
        mark = "达标" if t["met"] else "未达标"
        typer.echo(f"  [{mark}] {t['target']:<17} {t['actual']!s:>8} / {t['goal']}  "
                   f"（{t['evidence']}）")
    for path in paths:
        typer.echo(f"已写入 {path}")
