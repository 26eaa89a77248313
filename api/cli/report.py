"""`patmatch report`: the platform's statistical report for a period (供需对接统计报告)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from api.cli.common import cli_errors


def register(app: typer.Typer) -> None:
    @app.command("report")
    @cli_errors
    def report_cmd(
        start: Optional[str] = typer.Option(None, "--from", help="First day (ISO); default 1 Jan."),
        end: Optional[str] = typer.Option(None, "--to", help="Last day (ISO); default today."),
        out: Optional[Path] = typer.Option(
            None, "--out", help="Also write the report here: .md, .json or .xlsx."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Supply/demand per chain, service to centres, pushes, data security and the
        platform targets for a period; archived in <home>/reports/."""
        from indexing.store.stats import Period
        from patmatch.errors import InputError
        from indexing.index.bundle import atomic_write_text
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
                atomic_write_text(out, body)
            paths.append(out)
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
            return
        p = report["period"]
        typer.echo(f"report {p['from']} .. {p['to']} ({p['days']} days)")
        for t in report["targets"]:
            mark = "met " if t["met"] else "MISS"
            typer.echo(f"  [{mark}] {t['target']:<17} {t['actual']!s:>8} / {t['goal']}  "
                       f"({t['evidence']})")
        for path in paths:
            typer.echo(f"wrote {path}")
