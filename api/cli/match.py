"""``patmatch match``: batch matching files for analysts (resumable, progress with ETA)."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""

    @app.command("match")
    @cli_errors
    def match(
        demands: Path = typer.Option(None, "--demands", help="Demand file (CSV/XLSX/JSONL/Parquet), "
                                     "validated like ingest; matched without being stored."),
        all_demands: bool = typer.Option(False, "--all-demands", help="Match every demand of the bundle."),
        out: Path = typer.Option(..., "--out", help="Output .parquet, .csv or .xlsx"),
        top_k: int = typer.Option(20, "--top-k", min=1, max=1000, help="Matches per query."),
        chain: str = typer.Option(None, "--chain", help="Industry chain id or Chinese name (e.g. "
                                  "battery_storage or 动力电池与新型储能): only this chain's records, "
                                  "on both sides for --all-demands."),
        min_grade: str = typer.Option(None, "--min-grade", help="A | B | C: patents graded at least this"),
        min_trl: int = typer.Option(None, "--min-trl", min=1, max=9, help="patents at least this mature"),
        max_required_trl: int = typer.Option(None, "--max-required-trl", min=1, max=9,
                                             help="demands requiring at most this TRL"),
        open_license_only: bool = typer.Option(False, "--open-license-only",
                                               help="only patents under open licence (开放许可)"),
        max_fee_wan: float = typer.Option(None, "--max-fee-wan", min=0,
                                          help="patents whose yearly licence fee (万元) is stated "
                                               "and at most this"),
        direction: str = typer.Option("demand-to-patent", "--direction",
                                      help="demand-to-patent | patent-to-demand"),
        resume: bool = typer.Option(False, "--resume", help="Continue a killed job from its checkpoint."),
        bundle_path: Path = typer.Option(None, "--bundle", help="Bundle directory (default: current)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        engine: str = typer.Option("local", "--engine", help="local | ray: run the demand blocks "
                                   "as Ray tasks (pip install 'patmatch[ray]'); same output."),
        ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster to use with "
                                        "--engine ray (e.g. auto or ray://head:10001; the bundle "
                                        "must be on a path every node sees); default: a local Ray."),
    ) -> None:
        """Match demands to patents (or patents to demands) into a file, with reasons."""
        from indexing.index.bundle import IndexBundle, current_bundle_path
        from indexing.index.filters import Filters
        from indexing.intake.ingest import read_records
        from indexing.intake.rejects import write_rejects
        from matcher.batch import run_batch
        from matcher.queries import queries_from_records, queries_from_side
        from matcher.ranker import runtime_for
        from patmatch.errors import InputError
        from patmatch.settings import get_settings

        if direction not in ("demand-to-patent", "patent-to-demand"):
            raise InputError(f"--direction must be demand-to-patent or patent-to-demand, got {direction!r}")
        if engine not in ("local", "ray"):
            raise InputError(f"--engine must be local or ray, got {engine!r}")
        if ray_address and engine != "ray":
            raise InputError("--ray-address is only used with --engine ray")
        if (demands is None) == (not all_demands):
            raise InputError("give exactly one of --demands FILE or --all-demands")
        if direction == "patent-to-demand" and demands is not None:
            raise InputError("patent-to-demand ranks the bundle's demands for each patent: "
                             "use --all-demands (ingest and rebuild to add new demands)")
        if chain:
            from labeling_spec import load_taxonomy
            from patmatch.errors import NotFoundError

            try:
                chain = load_taxonomy().resolve(chain)
            except NotFoundError as exc:
                raise InputError(exc.message, details=exc.details) from None
        settings = get_settings()
        path = bundle_path or current_bundle_path(settings)
        tokenizer, encoder = runtime_for(path, settings)
        bundle = IndexBundle.load(path, tokenizer_fingerprint=tokenizer.fingerprint,
                                  encoder_fingerprint=encoder.fingerprint)
        patent_only = {"--min-grade": min_grade, "--min-trl": min_trl,
                       "--open-license-only": open_license_only or None, "--max-fee-wan": max_fee_wan}
        wrong = ([k for k, v in patent_only.items() if v is not None]
                 if direction == "patent-to-demand" else
                 ["--max-required-trl"] if max_required_trl is not None else [])
        if wrong:
            raise InputError(f"{', '.join(wrong)} filter the ranked side, which is "
                             f"{'demands' if direction == 'patent-to-demand' else 'patents'} "
                             f"for {direction}; drop it or change --direction")
        filters = Filters(chains=(chain,) if chain else (), min_grade=min_grade, min_trl=min_trl,
                          max_required_trl=max_required_trl,
                          open_license_only=open_license_only, max_fee_wan=max_fee_wan)
        counts = ""
        rejects_path = None
        if demands is not None:
            records, rejects = read_records("demands", demands)
            n_rej = sum(1 for r in rejects if r.kind == "rejected")
            n_dup = len(rejects) - n_rej
            if rejects:
                rejects_path = write_rejects(rejects, out.parent / f"{out.stem}.rejects.csv", "demands")
            counts = (f"read {len(records) + len(rejects)} = accepted {len(records)} + rejected "
                      f"{n_rej} + duplicates {n_dup}")
            queries = queries_from_records(records)
        elif direction == "demand-to-patent":
            queries = queries_from_side(bundle.demands, "demands",
                                        Filters(chains=filters.chains, valid_only=False))
        else:
            queries = queries_from_side(bundle.patents, "patents", filters)
        if not queries.ids:
            raise InputError("no queries to match: the input had no valid demands"
                             + (f" in chain {chain!r}" if chain else ""))
        kw = dict(out=out, direction=direction, top_k=top_k, filters=filters, resume=resume,
                  progress=not no_progress)
        if engine == "ray":
            from matcher.batch_ray import run_batch_ray

            rep = run_batch_ray(bundle, tokenizer, encoder, queries, ray_address=ray_address, **kw)
        else:
            rep = run_batch(bundle, tokenizer, encoder, queries, **kw)
        if counts:
            typer.echo(counts)
        if rejects_path:
            typer.echo(f"拒收与重复的行：{rejects_path}")
        typer.echo(f"已写入 {rep.rows} 行（{rep.queries} 条查询）：{out}，用时 {rep.seconds:.1f} 秒"
                   + (f"（从第 {rep.resumed_blocks} 块之后续跑）" if rep.resumed_blocks else ""))
