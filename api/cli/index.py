"""Index commands: build, publish, rollback, bundles, verify, nightly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.common import cli_errors

# what the summaries print for people (Simplified Chinese); --json keeps the English keys
GATE_ZH = {"passed": "通过", "refused": "拒绝", "forced": "强制发布", "skipped": "未评测（无评测集）"}
STATE_ZH = {"current": "当前", "previous": "上一版", "published": "已发布", "staged": "待发布",
            "broken": "已损坏"}
NIGHTLY_ZH = {"ok": "完成", "unchanged": "数据未变，未重建", "gate_refused": "质量门拒绝发布",
              "locked": "另一次重建正在运行", "failed": "失败", "running": "运行中"}


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
                        warn=lambda message: typer.echo(f"警告：{message}", err=True))


def _open_store(settings: Any) -> Any:
    from indexing.store.record_store import open_store

    return open_store(settings)


def nightly_summary(st: Any) -> str:
    """One Chinese line for the operator (the key=value line stays in nightly.log)."""
    q = st.quality.get("ndcg@10")
    rejected = sum(1 for f in st.files if f.get("outcome") == "rejected")
    line = (f"夜间重建：{NIGHTLY_ZH.get(st.status, st.status)}（退出码 {st.exit_code}）；"
            f"构建 {st.build_id or '-'}，当前 {st.published or st.previous or '-'}；"
            f"专利 {st.counts.get('patents', '-')} 条，需求 {st.counts.get('demands', '-')} 条；"
            f"收件箱文件 {len(st.files)} 个（拒收 {rejected} 个）；"
            f"ndcg@10 {f'{q:.4f}' if isinstance(q, float) else '-'}；用时 {st.duration_s:.1f} 秒")
    return line + (f"\n错误：{st.error}" if st.error else "")


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
        typer.echo(f"已构建索引包 {bid}：{summary['path']}")
        typer.echo(f"  专利 {m.counts['patents']} 条，需求 {m.counts['demands']} 条"
                   f"（未收录：失效专利 {m.counts['patents_dropped_invalid']} 条，"
                   f"已删除需求 {m.counts['demands_dropped_deleted']} 条）")
        typer.echo("  各阶段耗时：" + "  ".join(f"{k} {v:.1f} 秒" for k, v in m.timings.items()))
        typer.echo(f"  内存峰值 {m.peak_rss_mb} MB；发布请运行 patmatch publish {bid}")

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
        gate = q.get("gate")
        typer.echo(f"已发布 {bid}（质量门：{GATE_ZH.get(gate, gate or '-')}"
                   + (f"，ndcg@10 {q['ndcg@10']:.4f}" if "ndcg@10" in q else "") + "）")
        from api.cli.push import push_after_publish

        push_after_publish(settings, f"publish {bid}")

    @app.command("rollback")
    @cli_errors
    def rollback_cmd() -> None:
        """Make the previous bundle current again."""
        from indexing.build.publish import rollback
        from patmatch.settings import get_settings

        typer.echo(f"已回滚：当前索引包为 {rollback(get_settings())}")

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
            typer.echo("还没有索引包；请先运行 patmatch build")
            return
        # the header is padded by display width (a CJK character takes two columns)
        typer.echo(f"{'构建编号':<20} {'状态':<8} {'专利':>6} {'需求':>6} "
                   f"{'ndcg@10':>8} {'MB':>8}  创建时间")
        for r in rows:
            nd = r.get("ndcg@10")
            state = STATE_ZH.get(r["state"], r["state"])
            typer.echo(f"{r['build_id']:<24} {state:<{10 - len(state)}} {r.get('patents') or '-':>8} "
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
        typer.echo(f"索引包 {res['build_id']} 校验通过（{res['path']}）")

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
                   else nightly_summary(st))
        if st.published and st.status == "ok":
            from api.cli.push import push_after_publish

            push_after_publish(settings, f"nightly {st.published}")
        if st.exit_code:
            raise typer.Exit(st.exit_code)
