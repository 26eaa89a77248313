"""Patent transfer reports (专利转化统计分析): five document types over the transfer events.

``build(inputs, type, period, region, chain)`` returns one JSON-able document; the
renderers (``transfer_render``: Markdown, HTML with charts, XLSX with native charts, PNG)
and the archive (``transfer_archive``) work from that document only. The statistics are
``indexing.store.transfer_stats`` (polars, vectorised); definitions are printed in every
report under 口径说明.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from patmatch.atomic_io import PRIVATE, atomic_path
from patmatch.errors import InputError

from indexing.store import transfer_stats as ts

REPORT_TYPES: dict[str, str] = {
    "annual": "年度专利转化统计分析报告",
    "quarterly": "季度转化动态",
    "chain": "产业链专题报告",
    "institution": "高校院所转化绩效报告",
    "flow": "区县/园区专利流向报告",
}
TYPE_ALIASES: dict[str, str] = {
    "annual": "annual", "年度": "annual", "年度专利转化统计分析报告": "annual",
    "quarterly": "quarterly", "quarter": "quarterly", "季度": "quarterly", "季度转化动态": "quarterly",
    "chain": "chain", "产业链": "chain", "产业链专题": "chain",
    "institution": "institution", "高校院所": "institution", "高校院所转化绩效": "institution",
    "flow": "flow", "流向": "flow", "区县/园区专利流向": "flow", "区县": "flow", "园区": "flow",
}
DEFINITIONS = [
    "转化事件：转让、许可（独占/排他/普通）、开放许可、作价入股；质押为融资事件，单独统计，不计入转化与流向。",
    "流入/流出/本地转化：受让方在辖区而让与方不在 / 让与方在辖区而受让方不在 / 双方均在辖区。",
    "转化率：期内实施转化的专利数 ÷ 平台专利库中该机构持有的专利数（库中无其专利时不计算）。",
    "同比增长：本期转化事件数相对上年同期的增长率；目标为不低于 20%。",
    "中小企业：受让方按主体类型规则为“企业”（非国有企业），让与方为高校、科研院所或国有企业。",
    "平台贡献：来源为 platform（平台成交反馈）的转化事件占全部转化事件的比例。",
    "金额单位：万元；未披露金额的事件计入件数、不计入金额。",
]


def resolve_type(value: str | None) -> str:
    if not value:
        return "annual"
    t = TYPE_ALIASES.get(value.strip().lower()) or TYPE_ALIASES.get(value.strip())
    if t is None:
        raise InputError(f"report type {value!r} is not one of {', '.join(REPORT_TYPES)} "
                         "(or 年度/季度/产业链/高校院所/流向)", details={"type": value})
    return t


@dataclass
class Inputs:
    """Everything a report reads: prepared events, patents held per holder, chain names."""

    events: pl.DataFrame
    fingerprint: str
    holdings: dict[str, int] = field(default_factory=dict)
    chain_names: dict[str, str] = field(default_factory=dict)


def _holdings(settings: Any) -> dict[str, int]:
    from indexing.store.record_store import open_store
    from labeling_spec.party_types import first_party

    counts: dict[str, int] = {}
    with open_store(settings) as store:
        for rec in store.iter_patents():
            name = first_party(rec.applicant)
            if name:
                counts[name] = counts.get(name, 0) + 1
    return counts


def _chain_names() -> dict[str, str]:
    try:
        from labeling_spec.chains import load_taxonomy

        return {c.id: c.name_zh for c in load_taxonomy().chains}
    except Exception:  # noqa: BLE001 - names are cosmetic; ids still print
        return {}


def load_inputs(settings: Any) -> Inputs:
    """Events from the database, cached as Parquet per fingerprint (a 1M-event table is
    read from the database once per change, not once per report)."""
    from indexing.store.tables_transfers import open_transfers

    repo = open_transfers(settings)
    fp = repo.fingerprint()
    cache = Path(settings.home) / "cache" / f"transfers-{fp}.parquet"
    if cache.is_file():
        df = pl.read_parquet(cache)
    else:
        df = repo.frame()
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("transfers-*.parquet"):
            old.unlink(missing_ok=True)
        with atomic_path(cache, mode=PRIVATE) as tmp:  # transfer events: records, owner-only
            df.write_parquet(tmp)
    holdings = _holdings(settings)
    hp = hashlib.sha256(repr(sorted(holdings.items())).encode()).hexdigest()[:8]
    return Inputs(ts.prepare(df), f"{fp}-{hp}", holdings, _chain_names())


_PARTY_SEP = re.compile(r"([;；,，、])")  # how co-owners are listed (labeling_spec.party_types)


def _mask_party_names(names: str) -> str:
    """Every individual among the parties masked (``常州大学；张三`` -> ``常州大学；张*``):
    an institution's co-owner may be a person."""
    from indexing.privacy import mask_name
    from labeling_spec.party_types import infer_party_type

    parts = _PARTY_SEP.split(names)
    return "".join(mask_name(p.strip()) or p if i % 2 == 0 and infer_party_type(p) == "individual"
                   else p for i, p in enumerate(parts))


def _mask_people(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Individuals are personal data: only their masked name leaves the store (tables,
    charts, highlights)."""
    for r in rows:
        for k in keys:
            if r.get(k):
                r[k] = _mask_party_names(r[k])
    return rows


def _mask_sankey(sk: dict[str, Any]) -> dict[str, Any]:
    """The flow chart's source nodes are institutions (names of parties); the targets
    (``→江苏省``) and the ``其他机构`` bucket are not names."""
    sources = {link["source"] for link in sk["links"]} - {"其他机构"}
    masked = {name: _mask_party_names(name) for name in sources}
    for n in sk["nodes"]:
        n["name"] = masked.get(n["name"], n["name"])
    for link in sk["links"]:
        link["source"] = masked.get(link["source"], link["source"])
    return sk


def build(inputs: Inputs, type_: str | None = None, period: str | None = None,
          region: str | None = None, chain: str | None = None,
          today: _dt.date | None = None) -> dict[str, Any]:
    kind = resolve_type(type_)
    p = ts.ReportPeriod.parse(period, "quarter" if kind == "quarterly" else "year", today=today)
    if kind == "flow" and not region:
        raise InputError("区县/园区专利流向报告需要 --region（如 常州市、武进区）",
                         details={"type": kind})
    j = ts.jurisdiction(region) if region else None
    df = inputs.events
    if j is not None:
        df = df.filter(j.any_side())
    chain_id = None
    if chain:
        chain_id = next((cid for cid, name in inputs.chain_names.items()
                         if chain in (cid, name) or chain in name), chain)
        df = df.filter(pl.col("chains").list.contains(chain_id))
    cur, prev = ts.in_period(df, p), ts.in_period(df, p.previous_year())
    t_cur, t_prev = ts.totals(cur), ts.totals(prev)
    title = REPORT_TYPES[kind]
    where = f"{j.name}" if j else "全国"
    if chain_id:
        where += f"·{inputs.chain_names.get(chain_id, chain_id)}"
    sub_level = (j.child_level() if j else "province")
    years_back = ts.in_period(df, ts.ReportPeriod("year", _dt.date(p.start.year - 4, 1, 1), p.end,
                                                  ""))
    doc: dict[str, Any] = {
        "report_version": "1", "type": kind, "title": f"{where}{p.label}{title}",
        "type_name": title, "period": p.to_dict(), "region": j.to_dict() if j else None,
        "chain": chain_id, "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "fingerprint": inputs.fingerprint, "definitions": DEFINITIONS,
        "empty": cur.is_empty(),
        "message": (f"{where}{p.label}无专利转化事件记录（转让、许可、开放许可、作价入股、质押均为 0）。"
                    if cur.is_empty() else None),
        "totals": t_cur, "previous": t_prev,
        "growth": ts.growth(t_cur["conversions"], t_prev["conversions"]),
        "amount_growth": ts.growth(int(round(t_cur["conversion_amount_wan"])),
                                   int(round(t_prev["conversion_amount_wan"]))),
        "trend": _trend(cur, prev, p),
        "history": ts.series(years_back, "year" if p.kind == "year" else "quarter"),
        "by_type": ts.by_type(cur, "quarter" if p.kind == "year" else "month"),
        "event_types": ts.event_types(cur),
        "receiving_regions": ts.by_region(cur, "assignee", sub_level),
        "source_regions": ts.by_region(cur, "assignor", sub_level),
        "institutions": _mask_people(ts.institutions(cur, inputs.holdings,
                                                     top=30 if kind == "institution" else 15),
                                     "assignor"),
        "sankey": _mask_sankey(ts.sankey(cur, sub_level if j else "province")),
        "chains": ts.chains(cur, inputs.chain_names),
        "sme": ts.sme_receivers(cur),
        "platform": ts.platform_share(cur),
        "top_deals": _mask_people(ts.top_deals(cur), "assignor", "assignee"),
        "flows": ts.flows(cur, j) if j else None,
    }
    doc["sme"]["top"] = _mask_people(doc["sme"]["top"], "assignee")
    doc["highlights"] = _highlights(doc)
    return doc


def _trend(cur: pl.DataFrame, prev: pl.DataFrame, p: ts.ReportPeriod) -> list[dict[str, Any]]:
    """Every month of the period beside the same month a year earlier (zeros included)."""
    now = {r["period"]: r for r in ts.series(cur, "month")}
    before = {r["period"]: r for r in ts.series(prev, "month")}
    months, y, m = [], p.start.year, p.start.month
    while (y, m) <= (p.end.year, p.end.month):
        months.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out = []
    for key in months:
        last = f"{int(key[:4]) - 1}{key[4:]}"
        out.append({"period": key, "conversions": now.get(key, {}).get("conversions", 0),
                    "amount_wan": now.get(key, {}).get("amount_wan", 0) or 0,
                    "previous_conversions": before.get(last, {}).get("conversions", 0)})
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _highlights(d: dict[str, Any]) -> list[str]:
    if d["empty"]:
        return [d["message"]]
    t, g = d["totals"], d["growth"]
    out = [f"本期共发生专利转化事件 {t['conversions']} 件，涉及专利 {t['distinct_patents']} 件、受让/被许可方 "
           f"{t['distinct_assignees']} 家，披露合同金额 {t['conversion_amount_wan']:.1f} 万元；"
           f"另有专利权质押 {t['pledges']} 件、{t['pledge_amount_wan']:.1f} 万元。"]
    if g["rate"] is None:
        out.append("上年同期无转化记录，无法计算同比增长。")
    else:
        out.append(f"转化件数同比增长 {_pct(g['rate'])}，{'达到' if g['met'] else '未达到'} 20% 的增长目标。")
    if d["institutions"]:
        top = d["institutions"][0]
        out.append(f"高校院所中转化最多的是 {top['assignor']}（{top['conversions']} 件）。")
    if d["flows"]:
        s = d["flows"]["summary"]
        out.append(f"辖区流入 {s['流入']['count']} 件、流出 {s['流出']['count']} 件、本地转化 "
                   f"{s['本地转化']['count']} 件，净流入 {d['flows']['net_inflow']} 件。")
    out.append(f"中小企业承接高校院所及国企专利 {d['sme']['events']} 件（{d['sme']['enterprises']} 家）；"
               f"平台撮合成交 {d['platform']['events']} 件，占比 {_pct(d['platform']['share'])}。")
    return out


__all__ = ["DEFINITIONS", "REPORT_TYPES", "Inputs", "build", "load_inputs", "resolve_type"]
