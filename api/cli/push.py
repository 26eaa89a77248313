"""Push commands: ``patmatch subscriptions add|list|pause|resume|remove``, ``patmatch push``,
``patmatch feedback import FILE``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from api.cli.common import cli_errors

subs_app = typer.Typer(help="Subscriptions (订阅): who gets which new matches, how.",
                       no_args_is_help=True)
feedback_app = typer.Typer(help="Outcome feedback (标注与追踪).", no_args_is_help=True)

# what the push commands print for people (Simplified Chinese); --json keeps the English values
STATUS_ZH = {"active": "生效", "paused": "已暂停", "deleted": "已删除"}
SCHEDULE_ZH = {"publish": "每次发布后", "daily": "每天", "weekly": "每周"}


def _store() -> Any:
    from api.push.store import open_push_store
    from patmatch.settings import get_settings

    return open_push_store(get_settings())


def _with_records(fn: Any) -> Any:
    from indexing.store.record_store import open_store
    from patmatch.settings import get_settings

    store = open_store(get_settings())
    try:
        return fn(store)
    finally:
        store.close()


def active_subscriptions(settings: Any) -> int:
    """How many subscriptions are active (0 when the database has none yet)."""
    from api.push.store import open_push_store

    return len(open_push_store(settings).list_subscriptions(status="active"))


def push_after_publish(settings: Any, reason: str) -> None:
    """Start ``patmatch push`` detached when someone subscribed: publish never waits."""
    from api.push.dispatcher import spawn_push

    try:
        if not active_subscriptions(settings):
            return
    except Exception as exc:  # noqa: BLE001 - a push problem must never fail a publish
        typer.echo(f"警告：推送未启动（{exc}）；请运行 patmatch push", err=True)
        return
    pid = spawn_push(settings, reason=reason)
    if pid:
        typer.echo(f"正在后台推送新的匹配结果（进程 {pid}，日志 "
                   f"{Path(settings.logs_dir) / 'push.log'}）", err=True)


@subs_app.command("add")
@cli_errors
def add_cmd(
    demand: Optional[str] = typer.Option(None, "--demand", help="A stored demand id."),
    text: Optional[str] = typer.Option(None, "--text", help="Or a free-text need."),
    channel: str = typer.Option("file", "--channel", help="webhook | email | file"),
    url: Optional[str] = typer.Option(None, "--url", help="Webhook URL."),
    to: list[str] = typer.Option([], "--to", help="E-mail recipient (repeatable)."),
    centre: Optional[str] = typer.Option(None, "--centre", help="Owning operation centre."),
    owner_chain: list[str] = typer.Option([], "--centre-chain",
                                          help="The centre's chains (its scope)."),
    chain: list[str] = typer.Option([], "--chain", help="Filter: chain id (repeatable)."),
    region: list[str] = typer.Option([], "--region", help="Filter: region (repeatable)."),
    ipc: list[str] = typer.Option([], "--ipc", help="Filter: IPC prefix (repeatable)."),
    applicant_type: list[str] = typer.Option([], "--applicant-type"),
    open_license: bool = typer.Option(False, "--open-license-only"),
    min_grade: Optional[str] = typer.Option(None, "--min-grade", help="A, B or C."),
    top_n: int = typer.Option(10, "--top-n"),
    min_score: float = typer.Option(0.0, "--min-score"),
    schedule: str = typer.Option("publish", "--schedule", help="publish | daily | weekly"),
    name: str = typer.Option("", "--name"),
) -> None:
    """Add a subscription; prints its id (and a webhook's secret, once)."""
    from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
    from patmatch.errors import NotFoundError
    from patmatch.settings import get_settings

    settings = get_settings()
    ch: dict[str, Any] = {"type": channel}
    if url:
        ch["url"] = url
    if to:
        ch["to"] = list(to)
    filters: dict[str, Any] = {k: v for k, v in {
        "chains": list(chain), "regions": list(region), "ipc_prefix": list(ipc),
        "applicant_types": list(applicant_type), "min_grade": min_grade}.items() if v}
    if open_license:
        filters["open_license_only"] = True
    spec = check_spec(SubscriptionSpec(channel=ch, demand_id=demand, text=text, filters=filters,
                                       top_n=top_n, min_score=min_score, schedule=schedule,
                                       name=name), allow_private=settings.webhook_allow_private)
    if demand is not None and _with_records(lambda s: s.get_demand(demand)) is None:
        raise NotFoundError(f"需求 {demand} 不存在 (demand not found)", details={"demand": demand})
    owner = (Owner("cli", "centre", centre, tuple(owner_chain), f"cli:{centre}") if centre
             else Owner("cli", "operator", None, (), "cli"))
    sub = _store().create_subscription(spec, owner)
    typer.echo(f"已添加订阅 {sub.id}  渠道 {sub.channel_type}，时机 {SCHEDULE_ZH.get(sub.schedule, sub.schedule)}，"
               f"每次前 {sub.top_n} 条")
    if sub.secret:
        typer.echo(f"Webhook 签名密钥（只显示这一次）：{sub.secret}")


@subs_app.command("list")
@cli_errors
def list_cmd(as_json: bool = typer.Option(False, "--json"),
             centre: Optional[str] = typer.Option(None, "--centre")) -> None:
    """List subscriptions (not removed ones)."""
    subs = _store().list_subscriptions(owner_centre=centre)
    if as_json:
        typer.echo(json.dumps([s.public() for s in subs], ensure_ascii=False, indent=2))
        return
    if not subs:
        typer.echo("没有订阅；请用 patmatch subscriptions add 添加")
    for s in subs:
        what = f"需求 {s.demand_id}" if s.demand_id else f"文本 {(s.text or '')[:30]!r}"
        typer.echo(f"{s.id}  {STATUS_ZH.get(s.status, s.status)}  中心 {s.owner_centre or '-'}  "
                   f"渠道 {s.channel_type}  时机 {SCHEDULE_ZH.get(s.schedule, s.schedule)}  "
                   f"前 {s.top_n} 条  {what}  最近推送的索引包 {s.last_build or '-'}")


def _set_status(sid: str, status: str) -> None:
    from patmatch.errors import NotFoundError

    store = _store()
    if store.get_subscription(sid) is None:
        raise NotFoundError(f"订阅 {sid} 不存在 (subscription not found)", details={"id": sid})
    store.update_subscription(sid, {"status": status})
    typer.echo(f"订阅 {sid}：{STATUS_ZH.get(status, status)}")


@subs_app.command("pause")
@cli_errors
def pause_cmd(sid: str) -> None:
    """Stop pushing to a subscription (kept, resumable)."""
    _set_status(sid, "paused")


@subs_app.command("resume")
@cli_errors
def resume_cmd(sid: str) -> None:
    """Push to a paused subscription again."""
    _set_status(sid, "active")


@subs_app.command("remove")
@cli_errors
def remove_cmd(sid: str) -> None:
    """Remove a subscription (its delivery log is kept)."""
    _set_status(sid, "deleted")


@feedback_app.command("import")
@cli_errors
def import_cmd(file: Path = typer.Argument(..., help="CSV or XLSX of outcomes.")) -> None:
    """Record outcomes from a sheet; bad rows go to a rejects CSV, the rest count."""
    from api.push.feedback_import import import_feedback
    from api.push.subscriptions import Owner
    from patmatch.settings import get_settings

    settings = get_settings()

    def run(records: Any) -> Any:
        return import_feedback(file, _store(), actor=Owner("cli", "operator", name="import"),
                               demand_exists=lambda d: records.get_demand(d) is not None,
                               patent_exists=lambda p: records.get_patent(p) is not None,
                               rejects_dir=Path(settings.home) / "rejects")

    rep = _with_records(run)
    typer.echo(rep.line())
    if rep.rejects_path:
        typer.echo(f"拒收的行：{rep.rejects_path}")
        for r in rep.rejects[:5]:
            typer.echo(f"  第 {r['row']} 行：{r['error']}")


def register(app: typer.Typer) -> None:
    app.add_typer(subs_app, name="subscriptions")
    app.add_typer(feedback_app, name="feedback")

    @app.command("push")
    @cli_errors
    def push_cmd(
        dry_run: bool = typer.Option(False, "--dry-run",
                                     help="Show what would be pushed; change nothing."),
        all_subs: bool = typer.Option(False, "--all", help="Every active subscription, due or not."),
        quiet: bool = typer.Option(False, "--quiet", help="One summary line."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Run the due digests now over the published bundle and send what is pending."""
        from api.push.dispatcher import push_now, send_pending
        from indexing.index.bundle import current_bundle_path
        from indexing.index.filters import Filters
        from matcher.ranker import HybridRanker
        from patmatch.errors import NoBundleError
        from patmatch.settings import get_settings

        settings = get_settings()
        store = _store()
        if not store.list_subscriptions(status="active"):
            rep_send = None if dry_run else send_pending(store, settings)
            typer.echo("没有生效的订阅" + (f"；重试待发送：成功 {rep_send.sent} 条，"
                                           f"失败 {rep_send.failed} 条"
                                           if rep_send and (rep_send.sent or rep_send.failed)
                                           else ""))
            return
        try:
            path = current_bundle_path(settings)
        except NoBundleError:
            raise NoBundleError("没有已发布的索引，无法计算推送 (publish a bundle first)") from None
        ranker = HybridRanker.from_bundle(path, settings)

        def run(records: Any) -> Any:
            def demand_text(did: str) -> str | None:
                rec = records.get_demand(did)
                return rec.query_text if rec is not None and rec.status != "deleted" else None

            return push_now(store, settings, ranker, ranker.bundle.build_id,
                            make_filters=Filters, demand_text=demand_text, dry_run=dry_run,
                            due_only=not all_subs)

        rep = _with_records(run)
        s = rep.summary()
        if as_json:
            typer.echo(json.dumps(s, ensure_ascii=False, indent=2))
            return
        typer.echo(f"{'试运行：' if dry_run else ''}索引包 {s['build_id']}："
                   f"到期订阅 {s['subscriptions']} 个，选出 {s['selected']} 条，入队 {s['queued']} 条，"
                   f"已发送 {s['sent']} 条，失败 {s['failed']} 条，放弃 {s['dead']} 条")
        if quiet:
            return
        for d in rep.digests:
            if d.skipped:
                typer.echo(f"  {d.subscription_id}：跳过（{d.skipped}）")
            elif dry_run:
                for it in d.selected:
                    typer.echo(f"  {d.subscription_id}  {it.rank:>3}. {it.patent_id}  {it.title}")
        for sid, err in s["errors"].items():
            typer.echo(f"  {sid}：{err}")
