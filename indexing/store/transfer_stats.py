"""Transfer statistics over the event table, vectorised with polars (no per-row Python).

Definitions (what the reports print under 口径说明):
- 转化事件 (conversion): 转让, 许可 (独占/排他/普通), 开放许可, 作价入股. A 质押 (pledge) is
  financing, not a conversion: it is counted and summed apart and never in flows or rates.
- 流入 / 流出 / 本地转化 for a jurisdiction R: the assignee is in R and the assignor is not /
  the assignor is in R and the assignee is not / both are in R.
- Conversion rate of an institution: distinct patents it converted in the period ÷ patents
  it holds in the store (None when the store holds none of its patents).
- SME receivers (中小企业): an ``enterprise`` assignee (party-type rule, not an SOE) of a
  conversion from a university, institute or SOE.
- YoY growth: conversions in the period vs the same period a year earlier; target ≥ 20 %.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from patmatch.errors import InputError

CONVERSION_GROUPS = ("转让", "许可", "开放许可", "作价入股")
GROUPS = (*CONVERSION_GROUPS, "质押")
GROWTH_TARGET = 0.20
SUPPLY_TYPES = ("university", "institute", "soe")
INSTITUTION_TYPES = ("university", "institute")


@dataclass(frozen=True)
class ReportPeriod:
    kind: str          # year / quarter / month
    start: _dt.date
    end: _dt.date      # inclusive
    label: str

    def previous_year(self) -> ReportPeriod:
        def back(d: _dt.date) -> _dt.date:
            try:
                return d.replace(year=d.year - 1)
            except ValueError:  # 29 Feb
                return d.replace(year=d.year - 1, day=28)
        return ReportPeriod(self.kind, back(self.start), back(self.end),
                            _label(self.kind, back(self.start)))

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "from": self.start.isoformat(),
                "to": self.end.isoformat()}

    @classmethod
    def parse(cls, text: str | None, default_kind: str = "year",
              today: _dt.date | None = None) -> ReportPeriod:
        """``2025`` / ``2025Q3`` / ``2025-Q3`` / ``2025年第3季度`` / ``2025-07``; None -> the
        current year or quarter."""
        today = today or _dt.date.today()
        if not text:
            if default_kind == "quarter":
                text = f"{today.year}Q{(today.month - 1) // 3 + 1}"
            else:
                text = str(today.year)
        s = text.strip().upper().replace("年第", "Q").replace("季度", "").replace("年", "")
        if m := re.fullmatch(r"(\d{4})", s):
            y = int(m[1])
            return cls("year", _dt.date(y, 1, 1), _dt.date(y, 12, 31), f"{y}年")
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", s):
            y, q = int(m[1]), int(m[2])
            start = _dt.date(y, 3 * q - 2, 1)
            return cls("quarter", start, _month_end(y, 3 * q), _label("quarter", start))
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
            y, mo = int(m[1]), int(m[2])
            if 1 <= mo <= 12:
                start = _dt.date(y, mo, 1)
                return cls("month", start, _month_end(y, mo), _label("month", start))
        raise InputError(f"period {text!r} is not a year (2025), quarter (2025Q3) or month "
                         "(2025-07)", details={"period": text})


def _month_end(y: int, m: int) -> _dt.date:
    return (_dt.date(y + (m == 12), m % 12 + 1, 1) - _dt.timedelta(days=1))


def _label(kind: str, d: _dt.date) -> str:
    if kind == "year":
        return f"{d.year}年"
    if kind == "quarter":
        return f"{d.year}年第{(d.month - 1) // 3 + 1}季度"
    return f"{d.year}年{d.month}月"


# --- preparing and filtering -----------------------------------------------------------
def prepare(df: pl.DataFrame) -> pl.DataFrame:
    """Typed date, period keys and the conversion flag, once per report run."""
    d = pl.col("effective_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    out = df.with_columns(d.alias("date")).with_columns(
        pl.col("date").dt.year().alias("year"),
        (pl.col("date").dt.year().cast(pl.Utf8) + "Q"
         + pl.col("date").dt.quarter().cast(pl.Utf8)).alias("quarter"),
        pl.col("date").dt.strftime("%Y-%m").alias("month"),
        pl.col("event_group").is_in(CONVERSION_GROUPS).alias("is_conv"),
        pl.col("amount_wan").cast(pl.Float64),
    )
    if out.schema.get("chains") == pl.Utf8:
        out = out.with_columns(pl.col("chains").fill_null("[]")
                               .str.json_decode(pl.List(pl.Utf8)).alias("chains"))
    return out


def in_period(df: pl.DataFrame, p: ReportPeriod) -> pl.DataFrame:
    return df.filter(pl.col("date").is_between(p.start, p.end))


@dataclass(frozen=True)
class Jurisdiction:
    """A region at one level; ``side_in(side)`` is the polars test for one party."""

    name: str
    level: str            # province / city / district
    province: str | None
    city: str | None
    district: str | None

    def side_in(self, side: str) -> pl.Expr:
        if self.level == "district":
            e = pl.col(f"{side}_district") == self.district
            return e & (pl.col(f"{side}_city") == self.city) if self.city else e
        if self.level == "city":
            return pl.col(f"{side}_city") == self.city
        return pl.col(f"{side}_province") == self.province

    def any_side(self) -> pl.Expr:
        return (self.side_in("assignor") | self.side_in("assignee")).fill_null(False)

    def child_level(self) -> str:
        return {"province": "city", "city": "district", "district": "district"}[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "province": self.province,
                "city": self.city, "district": self.district}


def jurisdiction(name: str) -> Jurisdiction:
    """常州 / 常州市 / 武进区 / 江苏省 -> the deepest division the name resolves to."""
    from indexing.intake.regions import resolve_region

    r = resolve_region(name)
    if not r.resolved:
        raise InputError(f"region {name!r} is not a province, city or district of China",
                         details={"region": name})
    if r.district:
        return Jurisdiction(r.district, "district", r.province, r.city, r.district)
    if r.city and r.city != r.province:
        return Jurisdiction(r.city, "city", r.province, r.city, None)
    return Jurisdiction(r.province or r.city or name, "province", r.province, r.city, None)


# --- measures ---------------------------------------------------------------------------
def totals(df: pl.DataFrame) -> dict[str, Any]:
    conv = df.filter(pl.col("is_conv"))
    pledge = df.filter(~pl.col("is_conv"))
    return {
        "events": df.height, "conversions": conv.height,
        "conversion_amount_wan": round(float(conv["amount_wan"].sum() or 0), 2),
        "amount_wan": round(float(df["amount_wan"].sum() or 0), 2),
        "distinct_assignees": conv["assignee"].n_unique() if conv.height else 0,
        "distinct_patents": conv["patent_id"].n_unique() if conv.height else 0,
        "pledges": pledge.height, "pledge_amount_wan": round(float(pledge["amount_wan"].sum() or 0), 2),
        "with_amount": int(df["amount_wan"].is_not_null().sum()),
    }


def growth(current: int, previous: int, target: float = GROWTH_TARGET) -> dict[str, Any]:
    rate = None if previous == 0 else (current - previous) / previous
    return {"current": current, "previous": previous,
            "rate": None if rate is None else round(rate, 4), "target": target,
            "met": None if rate is None else rate >= target}


def series(df: pl.DataFrame, by: str) -> list[dict[str, Any]]:
    """Per period key (year/quarter/month): conversions, pledges, amount, assignees."""
    if df.is_empty():
        return []
    g = (df.group_by(by).agg(
        pl.col("is_conv").sum().alias("conversions"),
        (~pl.col("is_conv")).sum().alias("pledges"),
        pl.col("amount_wan").filter(pl.col("is_conv")).sum().round(2).alias("amount_wan"),
        pl.col("assignee").filter(pl.col("is_conv")).n_unique().alias("distinct_assignees"),
    ).sort(by))
    return g.rename({by: "period"}).with_columns(pl.col("period").cast(pl.Utf8)).to_dicts()


def by_type(df: pl.DataFrame, by: str) -> list[dict[str, Any]]:
    """Counts per period and event group (the stacked bars), every group a column."""
    if df.is_empty():
        return []
    wide = (df.group_by(by, "event_group").len()
            .pivot(on="event_group", index=by, values="len").sort(by).fill_null(0))
    for grp in GROUPS:
        if grp not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.UInt32).alias(grp))
    return (wide.select(pl.col(by).cast(pl.Utf8).alias("period"), *GROUPS)).to_dicts()


def event_types(df: pl.DataFrame) -> list[dict[str, Any]]:
    if df.is_empty():
        return []
    return (df.group_by("event_type").agg(pl.len().alias("count"),
                                          pl.col("amount_wan").sum().round(2).alias("amount_wan"))
            .sort("count", descending=True).to_dicts())


def by_region(df: pl.DataFrame, side: str, level: str, top: int = 15) -> list[dict[str, Any]]:
    conv = df.filter(pl.col("is_conv"))
    if conv.is_empty():
        return []
    col = f"{side}_{level}"
    return (conv.group_by(pl.col(col).fill_null("未知").alias("region"))
            .agg(pl.len().alias("count"), pl.col("amount_wan").sum().round(2).alias("amount_wan"))
            .sort(["count", "region"], descending=[True, False]).head(top).to_dicts())


def flows(df: pl.DataFrame, j: Jurisdiction, top: int = 10) -> dict[str, Any]:
    """流入 / 流出 / 本地 for ``j``, with the counterpart regions of each."""
    conv = df.filter(pl.col("is_conv"))
    a_in = j.side_in("assignor").fill_null(False)
    b_in = j.side_in("assignee").fill_null(False)
    kind = (pl.when(a_in & b_in).then(pl.lit("本地转化")).when(b_in).then(pl.lit("流入"))
            .when(a_in).then(pl.lit("流出")).otherwise(None))
    f = conv.with_columns(kind.alias("flow")).filter(pl.col("flow").is_not_null())
    summary = {k: {"count": 0, "amount_wan": 0.0} for k in ("流入", "流出", "本地转化")}
    for r in f.group_by("flow").agg(pl.len().alias("count"),
                                    pl.col("amount_wan").sum().round(2).alias("amount_wan")).to_dicts():
        summary[r["flow"]] = {"count": r["count"], "amount_wan": r["amount_wan"] or 0.0}
    lvl = "province" if j.level == "province" else "city"

    def counterpart(flow: str, side: str) -> list[dict[str, Any]]:
        return (f.filter(pl.col("flow") == flow)
                .group_by(pl.col(f"{side}_{lvl}").fill_null("未知").alias("region"))
                .agg(pl.len().alias("count")).sort(["count", "region"], descending=[True, False])
                .head(top).to_dicts())

    child = j.child_level()
    local = (f.filter(pl.col("flow") != "流出")
             .group_by(pl.col(f"assignee_{child}").fill_null("未知").alias("region"))
             .agg(pl.len().alias("count")).sort(["count", "region"], descending=[True, False])
             .head(top).to_dicts())
    net = summary["流入"]["count"] - summary["流出"]["count"]
    return {"jurisdiction": j.to_dict(), "summary": summary, "net_inflow": net,
            "inflow_from": counterpart("流入", "assignor"),
            "outflow_to": counterpart("流出", "assignee"), "received_by_subregion": local}


def institutions(df: pl.DataFrame, holdings: dict[str, int] | None = None,
                 top: int = 20) -> list[dict[str, Any]]:
    """Universities and institutes as assignors: conversions, patents, amount, rate."""
    conv = df.filter(pl.col("is_conv") & pl.col("assignor_type").is_in(INSTITUTION_TYPES))
    if conv.is_empty():
        return []
    g = (conv.group_by("assignor").agg(
        pl.col("assignor_type").first().alias("type"),
        pl.len().alias("conversions"),
        pl.col("patent_id").n_unique().alias("patents_converted"),
        pl.col("amount_wan").sum().round(2).alias("amount_wan"),
        pl.col("assignee").n_unique().alias("receivers"),
        (pl.col("assignee_type") == "enterprise").sum().alias("to_enterprises"),
        (pl.col("assignor_province") == pl.col("assignee_province")).sum().alias("in_province"),
        pl.col("event_group").value_counts().alias("_types"),
    ).sort(["conversions", "assignor"], descending=[True, False]).head(top))
    rows = g.drop("_types").to_dicts()
    held = holdings or {}
    for r in rows:
        n = held.get(r["assignor"])
        r["patents_held"] = n
        r["conversion_rate"] = round(r["patents_converted"] / n, 4) if n else None
    return rows


def sme_receivers(df: pl.DataFrame, top: int = 10) -> dict[str, Any]:
    m = df.filter(pl.col("is_conv") & pl.col("assignor_type").is_in(SUPPLY_TYPES)
                  & (pl.col("assignee_type") == "enterprise"))
    if m.is_empty():
        return {"enterprises": 0, "events": 0, "amount_wan": 0.0, "top": []}
    top_rows = (m.group_by("assignee").agg(pl.len().alias("count"),
                                           pl.col("amount_wan").sum().round(2).alias("amount_wan"),
                                           pl.col("assignee_city").first().alias("city"))
                .sort(["count", "assignee"], descending=[True, False]).head(top).to_dicts())
    return {"enterprises": m["assignee"].n_unique(), "events": m.height,
            "amount_wan": round(float(m["amount_wan"].sum() or 0), 2), "top": top_rows}


def platform_share(df: pl.DataFrame) -> dict[str, Any]:
    conv = df.filter(pl.col("is_conv"))
    plat = conv.filter(pl.col("source") == "platform")
    amt = float(conv["amount_wan"].sum() or 0)
    pamt = float(plat["amount_wan"].sum() or 0)
    return {"events": plat.height, "share": round(plat.height / conv.height, 4) if conv.height else None,
            "amount_wan": round(pamt, 2), "amount_share": round(pamt / amt, 4) if amt else None}


def chains(df: pl.DataFrame, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    conv = df.filter(pl.col("is_conv"))
    if conv.is_empty():
        return []
    ex = (conv.select(pl.col("chains").list.first().is_null().alias("_none"), "chains",
                      "amount_wan", "event_group")
          .with_columns(pl.when(pl.col("chains").list.len() == 0).then(pl.lit(["未标引"]))
                        .otherwise(pl.col("chains")).alias("chains")).explode("chains"))
    g = (ex.group_by("chains").agg(
        pl.len().alias("count"), pl.col("amount_wan").sum().round(2).alias("amount_wan"),
        *(( pl.col("event_group") == grp).sum().alias(grp) for grp in CONVERSION_GROUPS))
         .sort(["count", "chains"], descending=[True, False]))
    rows = g.rename({"chains": "chain"}).to_dicts()
    for r in rows:
        r["name"] = (names or {}).get(r["chain"], r["chain"])
    return rows


def sankey(df: pl.DataFrame, level: str = "province", top: int = 10) -> dict[str, Any]:
    """Institutions (top N by conversions, the rest as 其他机构) -> receiving regions."""
    conv = df.filter(pl.col("is_conv") & pl.col("assignor_type").is_in(SUPPLY_TYPES))
    if conv.is_empty():
        return {"nodes": [], "links": []}
    lead = (conv.group_by("assignor").len().sort(["len", "assignor"], descending=[True, False])
            .head(top)["assignor"])
    src = pl.when(pl.col("assignor").is_in(lead.implode())).then(pl.col("assignor")).otherwise(
        pl.lit("其他机构"))
    dst = ("→" + pl.col(f"assignee_{level}").fill_null("未知"))
    links = (conv.group_by(src.alias("source"), dst.alias("target")).len()
             .sort(["len", "source", "target"], descending=[True, False, False]).head(60))
    nodes = sorted(set(links["source"]) | set(links["target"]))
    return {"nodes": [{"name": n} for n in nodes],
            "links": [{"source": s, "target": t, "value": int(v)} for s, t, v in links.iter_rows()]}


def top_deals(df: pl.DataFrame, n: int = 10) -> list[dict[str, Any]]:
    d = df.filter(pl.col("is_conv") & pl.col("amount_wan").is_not_null())
    if d.is_empty():
        return []
    return (d.sort(["amount_wan", "effective_date"], descending=[True, False]).head(n)
            .select("effective_date", "patent_id", "event_type", "assignor", "assignee",
                    "assignee_city", "amount_wan", "source").to_dicts())


__all__ = ["CONVERSION_GROUPS", "GROUPS", "GROWTH_TARGET", "Jurisdiction", "ReportPeriod",
           "by_region", "by_type", "chains", "event_types", "flows", "growth", "in_period",
           "institutions", "jurisdiction", "platform_share", "prepare", "sankey", "series",
           "sme_receivers", "top_deals", "totals"]
