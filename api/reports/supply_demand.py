"""The platform's statistical report for a period (供需对接统计报告): supply and demand per
industry chain, service to operation centres, precise pushes, data security, and the
platform targets with the evidence for each.

An edge module (like the CLI): it composes ``indexing.store.stats`` (the records),
``indexing.index.bundle`` (what is being served), ``api.usage`` (who was served, results
viewed) and ``api.push.stats`` (items delivered by subscriptions, the outcome funnel,
deals and the seed targets). Every report is archived as JSON + Markdown in
``<home>/reports/``; the "statistical reports per year" target counts the distinct
periods archived, so rerunning a report does not count twice.
"""

from __future__ import annotations

import datetime as _dt
import json
import stat
from pathlib import Path
from typing import Any

TARGETS = {"chains_labelled": 8, "base_records": 20_000, "centres_served": 5,
           "pushes_per_year": 1_000, "reports_per_year": 5}  # + the seed targets (api.push.stats)
REPORT_VERSION = "1"


def reports_dir(settings: Any) -> Path:
    return Path(settings.home) / "reports"


REPORT_TYPE = "supply_demand"


def _report_key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r.get("report_type") or REPORT_TYPE, r["period"]["from"], r["period"]["to"])


def _archived_in_last_year(settings: Any, today: _dt.date) -> set[tuple[str, str, str]]:
    """Distinct (type, from, to) of the reports archived in the last 365 days: rerunning
    the report for the same period is not another report."""
    since = (today - _dt.timedelta(days=364)).isoformat()
    seen: set[tuple[str, str, str]] = set()
    for p in reports_dir(settings).glob("report-*.json"):
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
            generated = r["generated"][:10]
            key = _report_key(r)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or damaged: it does not count
        if since <= generated <= today.isoformat():
            seen.add(key)
    return seen


def _push_sections(settings: Any, period: Any, store: Any) -> dict[str, Any]:
    """Delivered pushes, the outcome funnel, deals and the seed targets (api.push.stats)."""
    from api.push import stats
    from api.push.store import open_push_store

    engine = open_push_store(settings).engine

    def patent_type(pid: str) -> str | None:
        rec = store.get_patent(pid)
        return rec.applicant_type if rec is not None else None

    def taker(demand_id: str | None, subscription_id: str | None) -> str | None:
        rec = store.get_demand(demand_id) if demand_id else None
        if rec is not None:
            return rec.enterprise or rec.owner or rec.id
        return f"sub:{subscription_id}" if subscription_id else None

    try:
        deals = stats.deals(engine, period, patent_type=patent_type, taker=taker)
        return {"delivered": stats.delivered_counts(engine, period),
                "funnel": stats.funnel(engine, period), "deals": deals,
                "seed_targets": stats.seed_targets(deals)}
    finally:
        engine.dispose()


def _bundle_summary(settings: Any) -> dict[str, Any] | None:
    from indexing.index.bundle import Manifest, current_bundle_path
    from patmatch.errors import BundleError

    try:
        m = Manifest.read(current_bundle_path(settings))
    except BundleError:
        return None
    return {"build_id": m.build_id, "created": m.created_at,
            "patents": m.counts.get("patents", 0), "demands": m.counts.get("demands", 0),
            "chains": m.chains}


def _security(settings: Any, store_counts: dict[str, int], usage: dict[str, Any]) -> dict:
    key = Path(settings.resolved_pii_key_file)
    mode = stat.S_IMODE(key.stat().st_mode) if key.is_file() else None
    return {
        "contacts_encrypted": store_counts.get("demand_contacts_encrypted", 0),
        "pii_key_file_private": mode is not None and not mode & 0o077,
        "masking": "contact fields and ID numbers are masked in every output unless the "
                   "caller's role allows them (broker); exports and bundles never hold them",
        "audit_entries_total": usage["audit_entries_total"],
        "audit_append_only": usage["audit_append_only"],
        "monitoring": "/metrics (Prometheus), /healthz, /readyz; nightly status JSON",
    }


def build_report(settings: Any, period: Any, *, today: _dt.date | None = None) -> dict:
    """The report as a JSON-able dict (not yet archived)."""
    from api.usage import usage_stats
    from indexing.store.database import create_db_engine, database_url
    from indexing.store.stats import record_stats
    from indexing.store.record_store import open_store
    from labeling_spec.chains import load_taxonomy

    today = today or _dt.datetime.now(_dt.UTC).date()
    tax = load_taxonomy()
    store = open_store(settings)
    try:
        records = record_stats(store, period, {c.id: c.name_zh for c in tax.chains})
        counts = store.counts()
        push = _push_sections(settings, period, store)
    finally:
        store.close()
    engine = create_db_engine(database_url(settings))
    try:
        usage = usage_stats(engine, period)
    finally:
        engine.dispose()
    bundle = _bundle_summary(settings)
    served = (bundle["patents"] + bundle["demands"]) if bundle else 0
    delivered = push["delivered"]
    this = (REPORT_TYPE, period.start.isoformat(), period.end.isoformat())
    reports = len(_archived_in_last_year(settings, today) | {this})
    security = _security(settings, counts, usage)
    secure = security["pii_key_file_private"] and (usage["audit_append_only"]
                                                   or not usage["available"])
    targets = [
        ("chains_labelled", records["chains_with_patents"],
         f"{len(tax.chains)} chains defined in labeling_spec; chains holding labelled patents"),
        ("base_records", served, "patents + demands in the current bundle "
         f"{bundle['build_id'] if bundle else '(none published)'}"),
        ("centres_served", len(usage["centres_served"]),
         f"centre keys with successful requests in the period "
         f"({len(usage['centres_registered'])} registered)"),
        ("pushes_per_year", delivered["annualised"],
         f"{delivered['pushes']} items delivered by subscriptions in {period.days} days, "
         f"annualised (API page views, {usage['views']}, are not pushes)"),
        ("reports_per_year", reports, "distinct report periods archived in the last 365 "
         "days, this one included (a rerun for the same period is not another report)"),
    ]
    return {
        "report_version": REPORT_VERSION,
        "report_type": REPORT_TYPE,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "period": period.to_dict(),
        "bundle": bundle,
        "records": records,
        "usage": usage,
        "push": push,
        "security": security,
        "targets": [{"target": k, "goal": TARGETS[k], "actual": v, "met": v >= TARGETS[k],
                     "evidence": ev} for k, v, ev in targets]
                   + [{"target": "data_security", "goal": "encrypted, masked, audited",
                       "actual": "yes" if secure else "no", "met": bool(secure),
                       "evidence": "PII key file mode 0600 and append-only audit log"}]
                   + push["seed_targets"],
    }


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows]
    return out + [""]


def render_markdown(r: dict[str, Any]) -> str:
    p, rec, use, sec = r["period"], r["records"], r["usage"], r["security"]
    b = r["bundle"] or {}
    lines = [f"# 专利供需对接统计报告 {p['from']} ~ {p['to']}", "",
             f"生成时间 {r['generated']}；当前索引 {b.get('build_id', '(未发布)')}。", "",
             "## 平台目标 (platform targets)", ""]
    lines += _table(["目标", "要求", "实际", "达成", "依据"],
                    [[t["target"], t["goal"], t["actual"], "✔" if t["met"] else "✘",
                      t["evidence"]] for t in r["targets"]])
    sup, dem = rec["supply"], rec["demand"]
    lines += ["## 供需总量", ""]
    lines += _table(["", "总数", "本期新增", "其他"], [
        ["专利 (供给)", sup["patents"], sup["new"],
         f"有效 {sup['valid']}，已标注 {sup['labelled']}，开放许可 {sup['open_license']}"],
        ["需求", dem["active"], dem["new"],
         f"保密 {dem['confidential']}，已标注 {dem['labelled']}，已删除 {dem['deleted']}"]])
    lines += ["## 按产业链", ""]
    lines += _table(["产业链", "专利", "有效专利", "本期新增专利", "需求", "本期新增需求",
                     "保密需求", "发布需求的中心"],
                    [[c["name"], c["patents"], c["patents_valid"], c["patents_new"],
                      c["demands"], c["demands_new"], c["demands_confidential"], c["centres"]]
                     for c in rec["chains"]])
    lines += ["## 专利权人类型与地区", ""]
    lines += _table(["专利权人类型", "专利"], [[_zh(x["name"]), x["count"]]
                                          for x in sup["by_applicant_type"]])
    lines += _table(["地区", "专利"], [[x["name"], x["count"]] for x in sup["by_region"]])
    lines += ["## 服务 (API)", ""]
    if not use["available"]:
        lines += ["API 尚未在此数据目录运行，无访问记录。", ""]
    else:
        lines += _table(["指标", "数值"], [
            ["请求数", use["requests"]], ["失败请求", use["errors"]],
            ["查看的匹配结果 (条，非推送)", use["views"]], ["查看过匹配的需求", use["demands_served"]],
            ["服务的运营中心", ", ".join(use["centres_served"]) or "-"],
            ["已登记的运营中心", ", ".join(use["centres_registered"]) or "-"]])
        lines += _table(["查看方式", "条数"], [[k, v] for k, v in use["views_by_action"].items()])
        lines += _table(["角色", "请求"], [[k, v] for k, v in use["by_role"].items()])
    lines += _push_markdown(r["push"])
    lines += ["## 数据安全", ""]
    lines += _table(["项目", "状态"], [
        ["联系方式加密存储 (条)", sec["contacts_encrypted"]],
        ["密钥文件仅属主可读", "是" if sec["pii_key_file_private"] else "否"],
        ["审计日志只增不改", "是" if sec["audit_append_only"] else "否"],
        ["审计日志条数", sec["audit_entries_total"]],
        ["脱敏", sec["masking"]], ["监控", sec["monitoring"]]])
    return "\n".join(lines)


def _zh(value: Any) -> Any:
    """What a reader sees instead of an id: chain ids and applicant types in Chinese
    (``nev|battery_storage`` -> ``新能源汽车及汽车核心零部件、动力电池与新型储能``)."""
    if not isinstance(value, str):
        return value
    from indexing.records import APPLICANT_TYPE_ZH
    from labeling_spec.chains import load_taxonomy

    try:
        names = {c.id: c.name_zh for c in load_taxonomy().chains}
    except Exception:  # noqa: BLE001 - a display name never fails a report
        names = {}
    names.update(APPLICANT_TYPE_ZH)
    return "、".join(names.get(p, p) for p in value.replace("/", "|").split("|"))


FUNNEL_HEAD = ["推送", "已查看", "已联系", "洽谈中", "已成交", "已拒绝"]
FUNNEL_KEYS = ["pushed", "viewed", "contacted", "negotiating", "deal", "rejected"]


def _push_markdown(push: dict[str, Any]) -> list[str]:
    d, f, deals = push["delivered"], push["funnel"], push["deals"]
    lines = ["## 精准推送 (订阅送达)", "",
             f"本期送达 {d['pushes']} 条（年化 {d['annualised']} 条），覆盖订阅 "
             f"{d['subscriptions_reached']} 个、需求 {d['demands_reached']} 个；"
             f"未送达（排队/失败/死信）：{d['not_delivered'] or '无'}。", ""]
    lines += _table(["运营中心", "送达条数"], [[k, v] for k, v in d["by_centre"].items()])
    lines += _table(["产业链", "送达条数"], [[_zh(k), v] for k, v in d["by_chain"].items()])
    lines += _table(["月份", "送达条数"], [[k, v] for k, v in d["by_month"].items()])
    lines += ["## 对接漏斗 (推送 → 查看 → 联系 → 洽谈 → 成交)", ""]
    lines += _table(["", *FUNNEL_HEAD], [["合计", *(f["overall"][k] for k in FUNNEL_KEYS)]])
    lines += _table(["产业链", *FUNNEL_HEAD],
                    [[_zh(c), *(row[k] for k in FUNNEL_KEYS)] for c, row in f["by_chain"].items()])
    lines += _table(["运营中心", *FUNNEL_HEAD],
                    [[c, *(row[k] for k in FUNNEL_KEYS)] for c, row in f["by_centre"].items()])
    lines += ["## 成交", ""]
    lines += _table(["指标", "数值"], [
        ["成交 (件)", deals["count"]], ["成交金额 (万元)", deals["amount_wan"]],
        ["高校院所专利转让/许可 (件)", deals["academic_transfers"]],
        ["高校院所专利转让/许可金额 (万元)", deals["academic_amount_wan"]],
        ["受让高校院所/国企专利的企业 (家)", deals["sme_takers"]],
        ["上一同长期间 (家)", deals["sme_takers_previous"]],
        ["增幅", "n/a" if deals["sme_growth"] is None else f"{deals['sme_growth']:.0%}"]])
    lines += _table(["成交方式", "件数", "金额 (万元)"],
                    [[k, v, deals["amount_by_type"].get(k, 0)]
                     for k, v in deals["by_type"].items()])
    return lines


def write_xlsx(r: dict[str, Any], path: Path) -> None:
    """One sheet per section (targets, chains, usage), for analysts' spreadsheets."""
    import polars as pl

    sheets = {
        "targets": pl.DataFrame([{k: str(v) for k, v in t.items()} for t in r["targets"]]),
        "chains": pl.DataFrame(r["records"]["chains"]) if r["records"]["chains"]
        else pl.DataFrame({"chain": []}),
        "usage": pl.DataFrame({"metric": ["requests", "errors", "views", "demands_served",
                                          "pushes_delivered"],
                               "value": [*(r["usage"][k] for k in ("requests", "errors", "views",
                                                                   "demands_served")),
                                         r["push"]["delivered"]["pushes"]]}),
        "funnel": pl.DataFrame([{"group": g, "name": n, **row}
                                for g, rows in (("chain", r["push"]["funnel"]["by_chain"]),
                                                ("centre", r["push"]["funnel"]["by_centre"]))
                                for n, row in rows.items()] or [{"group": "", "name": ""}]),
    }
    from patmatch.atomic_io import PRIVATE
    from patmatch.table_io import write_workbook

    write_workbook(path, sheets, mode=PRIVATE)


def archive(settings: Any, r: dict[str, Any]) -> list[Path]:
    """``<home>/reports/report-<to>-<generated>.{json,md}``, written atomically."""
    stem = f"report-{r['period']['to']}-{r['generated'].replace(':', '').replace('+0000', 'Z')}"
    out = reports_dir(settings)
    js, md = out / f"{stem}.json", out / f"{stem}.md"
    from patmatch.atomic_io import PRIVATE, atomic_write_text

    # owner-only like every report file: statistics of the platform's records and usage
    atomic_write_text(js, json.dumps(r, ensure_ascii=False, indent=2), mode=PRIVATE)
    atomic_write_text(md, render_markdown(r), mode=PRIVATE)
    return [js, md]


__all__ = ["TARGETS", "archive", "build_report", "render_markdown", "reports_dir", "write_xlsx"]
