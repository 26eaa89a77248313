"""Charts of a transfer report: pyecharts options for the HTML, matplotlib for the PNG.

The HTML report is self-contained: ``assets/echarts.min.js`` (Apache ECharts 5.6.0 from
the npm package, licence in ``assets/echarts.LICENSE`` / ``echarts.NOTICE``) is inlined,
so a report file opens offline and no CDN is ever referenced.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from patmatch.atomic_io import PRIVATE, atomic_path

ASSETS = Path(__file__).parent / "assets"
ECHARTS_JS = ASSETS / "echarts.min.js"
GROUP_COLORS = {"转让": "#c23531", "许可": "#2f4554", "开放许可": "#61a0a8", "作价入股": "#d48265",
                "质押": "#91c7ae"}
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "Microsoft YaHei", "SimHei")


@functools.lru_cache(maxsize=1)
def echarts_js() -> str:
    return ECHARTS_JS.read_text(encoding="utf-8")


def _init(height: str = "380px") -> Any:
    from pyecharts import options as opts

    return opts.InitOpts(width="100%", height=height, renderer="canvas",
                         animation_opts=opts.AnimationOpts(animation=False))


def chart_options(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, title, ECharts option JSON) for every chart of the document."""
    from pyecharts import options as opts
    from pyecharts.charts import Bar, Line, Pie, Sankey

    out: list[tuple[str, str, Any]] = []
    tr = doc["trend"]
    line = (Line(init_opts=_init())
            .add_xaxis([r["period"] for r in tr])
            .add_yaxis("本期转化件数", [r["conversions"] for r in tr])
            .add_yaxis("上年同期", [r["previous_conversions"] for r in tr], 
                       linestyle_opts=opts.LineStyleOpts(type_="dashed"))
            .set_global_opts(title_opts=opts.TitleOpts(title="转化趋势（本期与上年同期）"),
                             tooltip_opts=opts.TooltipOpts(trigger="axis")))
    out.append(("trend", "转化趋势", line))
    hist = doc["history"]
    hline = (Line(init_opts=_init())
             .add_xaxis([r["period"] for r in hist])
             .add_yaxis("转化件数", [r["conversions"] for r in hist])
             .add_yaxis("合同金额（万元）", [r["amount_wan"] or 0 for r in hist], yaxis_index=1)
             .extend_axis(yaxis=opts.AxisOpts(name="万元", position="right"))
             .set_global_opts(title_opts=opts.TitleOpts(title="历年转化件数与金额"),
                              tooltip_opts=opts.TooltipOpts(trigger="axis")))
    out.append(("history", "历年走势", hline))
    bt = doc["by_type"]
    bar = Bar(init_opts=_init()).add_xaxis([r["period"] for r in bt])
    for grp, color in GROUP_COLORS.items():
        bar.add_yaxis(grp, [r.get(grp, 0) for r in bt], stack="type", color=color)
    bar.set_global_opts(title_opts=opts.TitleOpts(title="按事件类型（堆叠）"),
                        tooltip_opts=opts.TooltipOpts(trigger="axis"))
    out.append(("types", "按事件类型", bar))
    inst = list(reversed(doc["institutions"][:12]))
    ibar = (Bar(init_opts=_init("420px"))
            .add_xaxis([r["assignor"] for r in inst])
            .add_yaxis("转化件数", [r["conversions"] for r in inst], color="#c23531")
            .reversal_axis()
            .set_series_opts(label_opts=opts.LabelOpts(position="right"))
            .set_global_opts(title_opts=opts.TitleOpts(title="高校院所转化排行"),
                             yaxis_opts=opts.AxisOpts(axislabel_opts=opts.LabelOpts(font_size=11))))
    out.append(("institutions", "高校院所排行", ibar))
    sk = doc["sankey"]
    sankey = (Sankey(init_opts=_init("480px"))
              .add("专利流向", sk["nodes"], sk["links"], node_gap=8,
                   linestyle_opt=opts.LineStyleOpts(opacity=0.3, curve=0.5, color="source"),
                   label_opts=opts.LabelOpts(position="right"))
              .set_global_opts(title_opts=opts.TitleOpts(title="机构 → 受让地区 专利流向")))
    out.append(("sankey", "专利流向", sankey))
    ch = [c for c in doc["chains"]][:12]
    cbar = Bar(init_opts=_init()).add_xaxis([c["name"] for c in ch])
    for grp in ("转让", "许可", "开放许可", "作价入股"):
        cbar.add_yaxis(grp, [c.get(grp, 0) for c in ch], stack="chain", color=GROUP_COLORS[grp])
    cbar.set_global_opts(title_opts=opts.TitleOpts(title="按产业链"),
                         xaxis_opts=opts.AxisOpts(axislabel_opts=opts.LabelOpts(rotate=20)),
                         tooltip_opts=opts.TooltipOpts(trigger="axis"))
    out.append(("chains", "按产业链", cbar))
    if doc.get("flows"):
        s = doc["flows"]["summary"]
        pie = (Pie(init_opts=_init())
               .add("流向", [(k, v["count"]) for k, v in s.items()], radius=["35%", "65%"])
               .set_global_opts(title_opts=opts.TitleOpts(title="流入 / 流出 / 本地转化")))
        out.append(("flows", "辖区流向", pie))
    return [(cid, title, c.dump_options()) for cid, title, c in out]


# --- PNG (e-mail and print) -------------------------------------------------------------
def cjk_font() -> str:
    """The first CJK font matplotlib can resolve; a report without one would print boxes."""
    from matplotlib import font_manager as fm

    from patmatch.errors import ConfigError

    names = {f.name for f in fm.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    raise ConfigError("no CJK font found for the PNG report: install fonts-noto-cjk "
                      "(.ci/system-packages.sh does)")


def render_png(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = [cjk_font()]
    plt.rcParams["axes.unicode_minus"] = False
    fig, axes = plt.subplots(2, 2, figsize=(14, 9), dpi=110)
    fig.suptitle(doc["title"], fontsize=16)
    tr = doc["trend"]
    ax = axes[0][0]
    ax.plot([r["period"] for r in tr], [r["conversions"] for r in tr], marker="o", label="本期")
    ax.plot([r["period"] for r in tr], [r["previous_conversions"] for r in tr], "--", label="上年同期")
    ax.set_title("转化趋势")
    ax.legend()
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax = axes[0][1]
    bt = doc["by_type"]
    bottom = [0] * len(bt)
    for grp, color in GROUP_COLORS.items():
        vals = [r.get(grp, 0) for r in bt]
        ax.bar([r["period"] for r in bt], vals, bottom=bottom, label=grp, color=color)
        bottom = [a + b for a, b in zip(bottom, vals)]
    ax.set_title("按事件类型")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax = axes[1][0]
    inst = list(reversed(doc["institutions"][:10]))
    ax.barh([r["assignor"] for r in inst], [r["conversions"] for r in inst], color="#c23531")
    ax.set_title("高校院所转化排行")
    ax.tick_params(axis="y", labelsize=8)
    ax = axes[1][1]
    ch = doc["chains"][:10]
    ax.bar([c["name"][:8] for c in ch], [c["count"] for c in ch], color="#2f4554")
    ax.set_title("按产业链")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    if doc["empty"]:
        fig.text(0.5, 0.5, doc["message"], ha="center", fontsize=14, color="#c23531")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    # a report lists parties and deals: owner-only, like every file holding records;
    # metadata: only the software line (no title, no text of a record in the PNG chunks)
    try:
        with atomic_path(path, mode=PRIVATE) as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def options_json(option: str) -> str:
    """Options as a JS expression; pyecharts emits JSON (functions are not used here)."""
    json.loads(option)  # a malformed option must fail here, not blank in the browser
    return option


__all__ = ["ECHARTS_JS", "chart_options", "cjk_font", "echarts_js", "options_json", "render_png"]
