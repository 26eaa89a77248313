"""Index commands: build, publish, rollback, bundles, verify, nightly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.common import cli_errors


def _load_config(path: Optional[Path], **overrides: Any) -> Any:
    """``--config``, else PATMATCH_BUILD_CONFIG, else the defaults; the fusion the bundle
    will be served with is fixed here, at build time."""
    from indexing.build.build_config import BuildConfig
    from matcher.config import with_recorded_fusion
    from patmatch.settings import get_settings

    path = path or get_settings().build_config
    base = BuildConfig.from_file(path) if path is not None else BuildConfig()
    dense_kind = overrides.pop("dense_kind", None)
    if dense_kind is not None:
        overrides["dense"] = {**base.dense.to_dict(), "kind": dense_kind}
    data = {**base.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    return with_recorded_fusion(BuildConfig.from_dict(data))


def make_evaluator(settings: Any, judged: Optional[Path], config: Any = None) -> Any:
    """``matcher.evaluate.evaluate_bundle`` bound to the judged set, or None (with a
    warning) when the judged set or the matcher is missing: the gate is then skipped."""
    from matcher.evaluate import quality_gate

    return quality_gate(settings, judged, config,
                        warn=lambda message: typer.echo(f"warning: {message}", err=True))


def _open_store(settings: Any) -> Any:
    from indexing.store.record_store import open_store

    return open_store(settings)


def register(app: typer.Typer) -> None:
    @app.command("build")
    @cli_errors
    def build_cmd(
        config: Optional[Path] = typer.Option(None, "--config", help="YAML/JSON BuildConfig."),
        encoder: Optional[str] = typer.Option(None, help="Encoder name or model dir."),
        dense_kind: Optional[str] = typer.Option(None, help="auto | flat | hnsw | hnsw_sq8 | ivf_sq8 | ivf_pq"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Build a new bundle from the store into staging (not yet published)."""
        from indexing.build.pipeline import build
        from indexing.index.bundle import Manifest
        from patmatch.settings import get_settings

        settings = get_settings()
        cfg = _load_config(config, encoder=encoder, dense_kind=dense_kind)
        store = _open_store(settings)
        try:
            bid = build(store, settings, cfg, show_progress=progress)
        finally:
            store.close()
        m = Manifest.read(settings.staging_dir / bid)
        summary = {"build_id": bid, "path": str(settings.staging_dir / bid),
                   "counts": m.counts, "timings": m.timings,
                   "peak_rss_mb": m.peak_rss_mb}
        if as_json:
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        typer.echo(f"built {bid} in {summary['path']}")
        typer.echo(f"  patents {m.counts['patents']}  demands {m.counts['demands']}  "
                   f"(dropped: {m.counts['patents_dropped_invalid']} invalid patents, "
                   f"{m.counts['demands_dropped_deleted']} deleted demands)")
        typer.echo("  stages: " + "  ".join(f"{k} {v:.1f}s" for k, v in m.timings.items()))
        typer.echo(f"  peak memory {m.peak_rss_mb} MB; publish with `patmatch publish {bid}`")

    @app.command("publish")
    @cli_errors
    def publish_cmd(
        build_id: Optional[str] = typer.Argument(None, help="Default: the newest staged build."),
        force: bool = typer.Option(False, "--force", help="Publish even if the gate refuses."),
        judged: Optional[Path] = typer.Option(None, help="Judged set (qrels.tsv) for the gate."),
    ) -> None:
        """Run the quality gate and make a build current (atomic pointer swap)."""
        from indexing.build.publish import publish
        from patmatch.settings import get_settings

        settings = get_settings()
        bid = publish(settings, build_id, force=force,
                      evaluator=make_evaluator(settings, judged, _load_config(None)))
        from indexing.index.bundle import Manifest

        q = Manifest.read(settings.bundles_dir / bid).quality
        typer.echo(f"published {bid} (gate: {q.get('gate', '-')}"
                   + (f", ndcg@10 {q['ndcg@10']:.4f}" if "ndcg@10" in q else "") + ")")
        from api.cli.push import push_after_publish

        push_after_publish(settings, f"publish {bid}")

    @app.command("rollback")
    @cli_errors
    def rollback_cmd() -> None:
        """Make the previous bundle current again."""
        from indexing.build.publish import rollback
        from patmatch.settings import get_settings

        typer.echo(f"current bundle is now {rollback(get_settings())}")

    @app.command("bundles")
    @cli_errors
    def bundles_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
        """List published and staged bundles (newest first)."""
        from indexing.build.publish import list_bundles
        from patmatch.settings import get_settings

        rows = list_bundles(get_settings())
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            typer.echo("no bundles yet; run `patmatch build`")
            return
        typer.echo(f"{'build id':<24} {'state':<10} {'patents':>8} {'demands':>8} "
                   f"{'ndcg@10':>8} {'MB':>8}  created")
        for r in rows:
            nd = r.get("ndcg@10")
            typer.echo(f"{r['build_id']:<24} {r['state']:<10} {r.get('patents') or '-':>8} "
                       f"{r.get('demands') or '-':>8} "
                       f"{(f'{nd:.4f}' if isinstance(nd, float) else '-'):>8} "
                       f"{r.get('size_mb', '-'):>8}  {(r.get('created_at') or '')[:19] or r.get('error', '')}")

    @app.command("verify")
    @cli_errors
    def verify_cmd(build_id: Optional[str] = typer.Argument(None, help="Default: current.")) -> None:
        """Check every file of a bundle against its manifest checksums."""
        from indexing.build.publish import verify
        from patmatch.errors import BundleIntegrityError
        from patmatch.settings import get_settings

        res = verify(get_settings(), build_id)
        if not res["ok"]:
            raise BundleIntegrityError(
                f"bundle {res['build_id']} is corrupted: " + "; ".join(res["problems"]),
                details={"path": res["path"]})
        typer.echo(f"bundle {res['build_id']} OK ({res['path']})")

    @app.command("nightly")
    @cli_errors
    def nightly_cmd(
        config: Optional[Path] = typer.Option(None, "--config", help="YAML/JSON BuildConfig."),
        judged: Optional[Path] = typer.Option(None, help="Judged set (qrels.tsv) for the gate."),
        wait: bool = typer.Option(False, "--wait", help="Wait for a running rebuild."),
        force_build: bool = typer.Option(False, "--force-build", help="Rebuild even if unchanged."),
        as_json: bool = typer.Option(False, "--json", help="Print the status JSON."),
    ) -> None:
        """Inbox -> ingest -> relabel -> build -> gate -> publish; exit 0/6/4/1."""
        from indexing.build.nightly import run_nightly
        from patmatch.settings import get_settings

        settings = get_settings()
        cfg = _load_config(config)
        import sys

        st = run_nightly(settings, evaluator=make_evaluator(settings, judged, cfg), config=cfg,
                         wait=wait, force_build=force_build,
                         show_progress=sys.stderr.isatty())  # quiet under cron and pipes
        typer.echo(json.dumps(st.to_dict(), ensure_ascii=False, indent=2) if as_json
                   else st.log_line())
        if st.published and st.status == "ok":
            from api.cli.push import push_after_publish

            push_after_publish(settings, f"nightly {st.published}")
        if st.exit_code:
            raise typer.Exit(st.exit_code)
