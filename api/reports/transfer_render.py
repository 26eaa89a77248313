"""Render a transfer report document: Markdown, HTML (inline charts), XLSX (native charts),
JSON and PNG. Every writer is atomic (temp file + rename)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from patmatch.errors import InputError

from api.reports.transfer_charts import chart_options, echarts_js, options_json, render_png

FORMATS = ("html", "xlsx", "md", "json", "png")
TYPE_ZH = {"university": "高校", "institute": "科研院所", "soe": "国有企业", "enterprise": "企业",
           "individual": "个人", "other": "其他"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _num(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.1f}"
    return str(x)


def tables(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, header, rows) in the order the report type puts first."""
    t, p, g = doc["totals"], doc["previous"], doc["growth"]
    overview = [
        ["转化事件（件）", t["conversions"], p["conversions"], _pct(g["rate"])],
        ["涉及专利（件）", t["distinct_patents"], p["distinct_patents"], ""],
        ["受让/被许可方（家）", t["distinct_assignees"], p["distinct_assignees"], ""],
        ["转化合同金额（万元）", t["conversion_amount_wan"], p["conversion_amount_wan"],
         _pct(doc["amount_growth"]["rate"])],
        ["质押（件）", t["pledges"], p["pledges"], ""],
        ["质押金额（万元）", t["pledge_amount_wan"], p["pledge_amount_wan"], ""],
        ["同比增长目标（≥20%）", "达到" if g["met"] else ("—" if g["met"] is None else "未达到"), "", ""],
    ]
    out: dict[str, tuple[str, list[str], list[list[Any]]]] = {
        "overview": ("总体情况", ["指标", "本期", "上年同期", "同比"], overview),
        "types": ("按事件类型", ["事件类型", "件数", "金额（万元）"],
                  [[r["event_type"], r["count"], r["amount_wan"]] for r in doc["event_types"]]),
        "trend": ("月度趋势", ["月份", "转化件数", "金额（万元）", "上年同期件数"],
                  [[r["period"], r["conversions"], r["amount_wan"], r["previous_conversions"]]
                   for r in doc["trend"]]),
        "institutions": ("高校院所转化绩效", ["机构", "类型", "转化件数", "转化专利", "金额（万元）",
                                       "受让方数", "其中企业", "库内持有专利", "转化率"],
                         [[r["assignor"], TYPE_ZH.get(r["type"], r["type"]), r["conversions"],
                           r["patents_converted"], r["amount_wan"], r["receivers"],
                           r["to_enterprises"], r["patents_held"] or "—",
                           _pct(r["conversion_rate"])] for r in doc["institutions"]]),
        "regions": ("受让地区分布", ["地区", "件数", "金额（万元）"],
                    [[r["region"], r["count"], r["amount_wan"]] for r in doc["receiving_regions"]]),
        "chains": ("按产业链", ["产业链", "件数", "金额（万元）", "转让", "许可", "开放许可", "作价入股"],
                   [[c["name"], c["count"], c["amount_wan"], c["转让"], c["许可"], c["开放许可"],
                     c["作价入股"]] for c in doc["chains"]]),
        "sme": ("中小企业承接高校院所/国企专利", ["企业", "城市", "件数", "金额（万元）"],
                [[r["assignee"], r["city"], r["count"], r["amount_wan"]] for r in doc["sme"]["top"]]),
        "deals": ("重大转化事件（按金额）", ["生效日", "专利号", "类型", "让与方", "受让方", "受让方城市",
                                    "金额（万元）", "来源"],
                  [[r["effective_date"], r["patent_id"], r["event_type"], r["assignor"],
                    r["assignee"], r["assignee_city"], r["amount_wan"], r["source"]]
                   for r in doc["top_deals"]]),
        "platform": ("平台贡献", ["指标", "数值"],
                     [["平台撮合成交（件）", doc["platform"]["events"]],
                      ["占全部转化", _pct(doc["platform"]["share"])],
                      ["平台成交金额（万元）", doc["platform"]["amount_wan"]],
                      ["占全部金额", _pct(doc["platform"]["amount_share"])]]),
    }
    if doc.get("flows"):
        f = doc["flows"]
        out["flows"] = ("辖区专利流向", ["流向", "件数", "金额（万元）"],
                        [[k, v["count"], v["amount_wan"]] for k, v in f["summary"].items()]
                        + [["净流入", f["net_inflow"], ""]])
        out["inflow"] = ("流入来源地区", ["地区", "件数"],
                         [[r["region"], r["count"]] for r in f["inflow_from"]])
        out["outflow"] = ("流出去向地区", ["地区", "件数"],
                          [[r["region"], r["count"]] for r in f["outflow_to"]])
        out["local"] = ("辖区内承接分布", ["下级区域", "件数"],
                        [[r["region"], r["count"]] for r in f["received_by_subregion"]])
    order = {
        "annual": ["overview", "trend", "types", "regions", "institutions", "chains", "flows",
                   "inflow", "outflow", "sme", "platform", "deals"],
        "quarterly": ["overview", "trend", "types", "deals", "regions", "institutions", "flows",
                      "platform"],
        "chain": ["overview", "chains", "types", "institutions", "regions", "deals"],
        "institution": ["overview", "institutions", "sme", "regions", "types", "deals"],
        "flow": ["overview", "flows", "inflow", "outflow", "local", "institutions", "types",
                 "deals"],
    }[doc["type"]]
    return [out[k] for k in order if k in out]


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# {doc['title']}", "",
             f"统计期间：{doc['period']['from']} 至 {doc['period']['to']}　生成时间：{doc['generated']}　"
             f"数据指纹：`{doc['fingerprint']}`", "", "## 要点", ""]
    lines += [f"- {h}" for h in doc["highlights"]] + [""]
    for title, header, rows in tables(doc):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["（本期无数据）", ""]
            continue
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_num(c).replace("|", "/") for c in r) + " |" for r in rows]
        lines.append("")
    lines += ["## 口径说明", ""] + [f"- {d}" for d in doc["definitions"]]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px auto;
max-width:1100px;color:#222}h1{font-size:24px;border-bottom:3px solid #c23531;padding-bottom:8px}
h2{font-size:18px;margin-top:28px;color:#8b1a1a}table{border-collapse:collapse;width:100%;
font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f0ec}
.meta{color:#666;font-size:13px}.chart{width:100%;height:380px;margin:12px 0}
.empty{padding:16px;background:#fff4f4;border:1px solid #e0b4b4;color:#8b1a1a}
.charts{display:grid;grid-template-columns:1fr;gap:8px}"""


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{e(doc['title'])}"
             f"</title><style>{_CSS}</style><script>{echarts_js()}</script></head><body>",
             f"<h1>{e(doc['title'])}</h1>",
             f"<p class='meta'>统计期间：{e(doc['period']['from'])} 至 {e(doc['period']['to'])}　"
             f"生成时间：{e(doc['generated'])}　数据指纹：{e(doc['fingerprint'])}</p>"]
    if doc["empty"]:
        parts.append(f"<p class='empty' id='empty-notice'>{e(doc['message'])}</p>")
    parts.append("<h2>要点</h2><ul>" + "".join(f"<li>{e(h)}</li>" for h in doc["highlights"])
                 + "</ul><h2>图表</h2><div class='charts'>")
    script = ["window.__charts=[];"]
    for cid, _title, option in chart_options(doc):
        height = "480px" if cid == "sankey" else "420px" if cid == "institutions" else "380px"
        parts.append(f"<div class='chart' id='chart-{cid}' style='height:{height}'></div>")
        script.append(f"(function(){{var c=echarts.init(document.getElementById('chart-{cid}'),"
                      f"null,{{renderer:'canvas'}});c.setOption({options_json(option)});"
                      f"window.__charts.push(c);}})();")
    parts.append("</div>")
    for title, header, rows in tables(doc):
        parts.append(f"<h2>{e(title)}</h2>")
        if not rows:
            parts.append("<p>（本期无数据）</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(_num(c))}</td>" for c in r) + "</tr>"
                               for r in rows) + "</table>")
    parts.append("<h2>口径说明</h2><ul>" + "".join(f"<li>{e(d)}</li>" for d in doc["definitions"])
                 + "</ul>")
    parts.append("<p class='meta'>图表：Apache ECharts 5.6.0（Apache-2.0），已内嵌于本文件，离线可用。</p>")
    parts.append("<script>" + "".join(script) + "</script></body></html>")
    return "".join(parts)


def write_xlsx(doc: dict[str, Any], path: Path) -> Path:
    """One sheet per table, with native Excel charts for trend, types, institutions, chains."""
    import xlsxwriter

    from patmatch.atomic_io import PRIVATE, atomic_path

    with atomic_path(path, mode=PRIVATE) as tmp:  # parties and deals: owner-only
        with xlsxwriter.Workbook(str(tmp)) as wb:
            bold = wb.add_format({"bold": True, "bg_color": "#F4F0EC", "border": 1})
            head = wb.add_format({"bold": True, "font_size": 14})
            ws = wb.add_worksheet("要点")
            ws.write(0, 0, doc["title"], head)
            ws.write(1, 0, f"统计期间 {doc['period']['from']} 至 {doc['period']['to']}，数据指纹 "
                           f"{doc['fingerprint']}")
            for i, h in enumerate(doc["highlights"]):
                ws.write(3 + i, 0, h)
            ws.set_column(0, 0, 120)
            for n, (title, header, rows) in enumerate(tables(doc)):
                name = re.sub(r"[\[\]:*?/\\]", "、", f"{n + 1}-{title}")[:31]
                sh = wb.add_worksheet(name)
                sh.write_row(0, 0, header, bold)
                for i, r in enumerate(rows):
                    sh.write_row(i + 1, 0, [c if isinstance(c, (int, float)) or c is None else str(c)
                                            for c in r])
                sh.set_column(0, len(header) - 1, 16)
                chart = _xlsx_chart(wb, name, title, header, len(rows))
                if chart is not None:
                    sh.insert_chart(1, len(header) + 1, chart)
    return path


def _xlsx_chart(wb: Any, sheet: str, title: str, header: list[str], n: int) -> Any:
    if n == 0:
        return None
    ref = f"'{sheet}'"
    if title == "月度趋势":
        c = wb.add_chart({"type": "line"})
        for col in (1, 3):
            c.add_series({"name": [sheet, 0, col], "categories": [sheet, 1, 0, n, 0],
                          "values": [sheet, 1, col, n, col], "marker": {"type": "circle"}})
    elif title == "按产业链":
        c = wb.add_chart({"type": "column", "subtype": "stacked"})
        for col in range(3, 7):
            c.add_series({"name": [sheet, 0, col], "categories": [sheet, 1, 0, n, 0],
                          "values": [sheet, 1, col, n, col]})
    elif title in ("高校院所转化绩效", "按事件类型", "受让地区分布", "流入来源地区", "流出去向地区"):
        col = 2 if title == "高校院所转化绩效" else 1
        c = wb.add_chart({"type": "bar" if title == "高校院所转化绩效" else "column"})
        c.add_series({"name": [sheet, 0, col], "categories": [sheet, 1, 0, min(n, 15), 0],
                      "values": [sheet, 1, col, min(n, 15), col]})
    else:
        return None
    del ref
    c.set_title({"name": title})
    c.set_size({"width": 720, "height": 360})
    return c


def write(doc: dict[str, Any], fmt: str, path: Path) -> Path:
    from patmatch.atomic_io import PRIVATE, atomic_write_text

    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}",
                         details={"format": fmt})
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        return write_xlsx(doc, path)
    if fmt == "png":
        return render_png(doc, path)
    body = (json.dumps(doc, ensure_ascii=False, indent=2, default=str) if fmt == "json"
            else render_markdown(doc) if fmt == "md" else render_html(doc))
    atomic_write_text(path, body, mode=PRIVATE)  # parties and deals: owner-only
    return path


__all__ = ["FORMATS", "render_html", "render_markdown", "tables", "write", "write_xlsx"]
