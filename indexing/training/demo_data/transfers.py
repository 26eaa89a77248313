"""Demo transfer histories (专利转让 / 许可 / 开放许可 / 作价入股 / 质押) for the demo patents.

Realistic on purpose, so the reports have something to say: yearly growth (~25 %, the
platform's share rising), seasonality (the Spring Festival dip, the year-end peak), a few
large exclusive licences, cross-province flows (most receivers local to the platform's
region, a third elsewhere), undisclosed amounts, and a few bad rows the ingester must
reject. Written with Chinese headers the way CNIPA notices and office exports look:
GBK CSV (转让/许可 notices), XLSX (质押登记), UTF-8 CSV (platform deals). Deterministic
for a seed.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADERS_ZH = {"patent_id": "专利号", "event_type": "事件类型", "license_kind": "许可种类",
              "effective_date": "生效日", "assignor": "让与人", "assignor_address": "让与人地址",
              "assignee": "受让人", "assignee_address": "受让人地址", "amount_wan": "合同金额(万元)",
              "source": "来源", "source_ref": "备案号"}
# city -> districts (addresses are composed from these; the parser resolves them)
DISTRICTS: dict[str, tuple[str, ...]] = {
    "江苏省常州市": ("武进区", "新北区", "天宁区", "钟楼区", "金坛区", "溧阳市"),
    "江苏省南京市": ("玄武区", "鼓楼区", "江宁区", "栖霞区", "浦口区"),
    "江苏省苏州市": ("姑苏区", "吴中区", "相城区", "昆山市", "常熟市"),
    "江苏省无锡市": ("梁溪区", "滨湖区", "新吴区", "江阴市"),
    "上海市": ("浦东新区", "闵行区", "徐汇区", "嘉定区", "松江区"),
    "浙江省杭州市": ("西湖区", "滨江区", "余杭区", "萧山区"),
    "浙江省宁波市": ("鄞州区", "北仑区", "镇海区"),
    "北京市": ("海淀区", "朝阳区", "昌平区", "大兴区"),
    "广东省深圳市": ("南山区", "宝安区", "龙岗区"),
    "湖南省长沙市": ("岳麓区", "雨花区", "长沙县"),
    "四川省成都市": ("武侯区", "高新区", "双流区"),
    "辽宁省大连市": ("甘井子区", "沙河口区", "金州区"),
    "安徽省合肥市": ("蜀山区", "包河区", "庐阳区"),
    "山东省济南市": ("历下区", "历城区", "槐荫区"),
}
HOME = "江苏省常州市"
ROADS = ("科教城路", "常武中路", "太湖东路", "龙城大道", "通江中路", "创新大道", "学府路", "高新路",
         "工业园路", "长江路", "人民路", "湖塘路", "嘉业路", "延政中路", "晋陵北路")
WORDS = ("恒创", "博远", "新锐", "天成", "华科", "瑞源", "中恒", "卓越", "鼎泰", "智联", "宏达", "精研",
         "联创", "启航", "同泰", "金诚", "远景", "正大", "星河", "汇能")
TRADES = ("新能源科技", "智能装备", "新材料", "电子科技", "精密机械", "储能技术", "汽车部件", "光伏科技",
          "环保科技", "信息技术")
BANKS = ("中国银行股份有限公司", "江苏银行股份有限公司", "交通银行股份有限公司", "招商银行股份有限公司",
         "江南农村商业银行股份有限公司")
TYPES = (("转让", None, 52), ("许可", "普通", 14), ("许可", "独占", 6), ("许可", "排他", 4),
         ("开放许可", None, 8), ("作价入股", None, 4), ("质押", None, 12))
MONTH_WEIGHT = (0.8, 0.5, 0.9, 0.95, 1.0, 1.15, 0.9, 0.8, 1.0, 1.0, 1.1, 1.6)
GROWTH = 1.25


@dataclass(frozen=True)
class TransferFiles:
    files: tuple[Path, ...]
    n_events: int
    n_bad: int
    n_repeated: int


def _city(region: str | None) -> str:
    if region in DISTRICTS:
        return region  # type: ignore[return-value]
    for c in DISTRICTS:
        if region and (region.startswith(c) or c.endswith(region)):
            return c
    return HOME


def _address(rng: random.Random, city: str) -> str:
    return f"{city}{rng.choice(DISTRICTS[city])}{rng.choice(ROADS)}{rng.randint(1, 399)}号"


def _company(rng: random.Random, city: str) -> str:
    short = city[-3:-1] if city.endswith("市") else city[:2]
    return f"{short}{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"


def _amount(rng: random.Random, etype: str, kind: str | None) -> Any:
    if rng.random() < 0.22:
        return rng.choice(("", "", "面议"))  # undisclosed
    if etype == "许可" and kind == "独占" and rng.random() < 0.05:
        return round(rng.uniform(2_000, 20_000), 1)  # the few large licences
    base = {"转让": (3.0, 0.9), "许可": (2.6, 0.9), "开放许可": (1.2, 0.6), "作价入股": (5.3, 0.8),
            "质押": (6.2, 0.9)}[etype]
    return round(min(rng.lognormvariate(*base), 50_000), 1)


def _dates(rng: random.Random, n: int, years: Sequence[int], last: _dt.date) -> list[_dt.date]:
    weights = [GROWTH ** k for k in range(len(years))]
    out = []
    ys = rng.choices(list(years), weights, k=n)
    ms = rng.choices(range(1, 13), MONTH_WEIGHT, k=n)
    for y, m in zip(ys, ms):
        d = _dt.date(y, m, rng.randint(1, 28))
        out.append(d if d <= last else last - _dt.timedelta(days=rng.randint(0, 300)))
    return out


def transfer_rows(patents: Sequence[dict[str, Any]], n_events: int, seed: int = 0,
                  years: Sequence[int] | None = None,
                  today: _dt.date | None = None) -> Iterator[dict[str, Any]]:
    """Canonical rows (English field names) for ``n_events`` events over ``patents``
    (dicts with ``id``, ``applicant``, ``region``)."""
    rng = random.Random(seed * 7919 + 17)
    today = today or _dt.date.today()
    years = list(years or range(today.year - 5, today.year + 1))
    dates = _dates(rng, n_events, years, today)
    tw = [w for *_, w in TYPES]
    for i, date in enumerate(dates):
        p = patents[rng.randrange(len(patents))]
        etype, kind, _ = rng.choices(TYPES, tw)[0]
        holder = str(p.get("applicant") or "常州大学").split(";")[0]
        src_city = _city(p.get("region"))
        share = 0.02 + 0.03 * (date.year - years[0])  # the platform grows
        source = "platform" if rng.random() < share and etype != "质押" else "cnipa"
        r = rng.random()
        dst_city = HOME if r < 0.45 else src_city if r < 0.65 else rng.choice(list(DISTRICTS))
        assignee = (f"{rng.choice(BANKS)}{dst_city[-3:]}分行" if etype == "质押"
                    else _company(rng, dst_city))
        assignor = holder
        if etype == "质押":  # the pledgor is the enterprise that holds (or bought) the patent
            assignor, src_city = _company(rng, dst_city), dst_city
        yield {"patent_id": p["id"], "event_type": etype, "license_kind": kind or "",
               "effective_date": date.isoformat(), "assignor": assignor,
               "assignor_address": _address(rng, src_city), "assignee": assignee,
               "assignee_address": _address(rng, dst_city), "amount_wan": _amount(rng, etype, kind),
               "source": source, "source_ref": f"{'PD' if source == 'platform' else 'BA'}{date.year}"
                                               f"{i:08d}"}


def _bad(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    k = rng.randrange(4)
    if k == 0:
        row["event_type"] = "赠与"
    elif k == 1:
        row["effective_date"] = f"{row['effective_date'][:4]}-13-40"
    elif k == 2:
        row["amount_wan"] = -abs(float(row["amount_wan"] or 5))
    else:
        row["assignee_address"] = "境外某地（地址不详）"
    return row


def _encode_csv(rows: list[dict[str, Any]], encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADERS_ZH.values())
    for r in rows:
        w.writerow(["" if r.get(k) is None else r.get(k) for k in HEADERS_ZH])
    return buf.getvalue().encode(encoding)


def write_transfers(out: str | Path, patents: Sequence[dict[str, Any]], n_events: int,
                    seed: int = 0, today: _dt.date | None = None) -> TransferFiles:
    """Notices (GBK CSV), pledges (XLSX), platform deals (UTF-8 CSV), Chinese headers."""
    import polars as pl

    from patmatch.atomic_io import atomic_write_bytes
    from patmatch.table_io import write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 4049)
    rows = list(transfer_rows(patents, n_events, seed, today=today))
    n_bad = max(1, n_events // 300)
    for i in rng.sample(range(len(rows)), min(n_bad, len(rows))):
        rows[i] = _bad(rng, rows[i])
    repeats = [dict(rows[i]) for i in rng.sample(range(len(rows)), min(len(rows),
                                                                       max(1, n_events // 500)))]
    notices = [r for r in rows + repeats if r["event_type"] != "质押" and r["source"] != "platform"]
    pledges = [r for r in rows if r["event_type"] == "质押"]
    platform = [r for r in rows if r["source"] == "platform"]
    f1, f2, f3 = (out / "transfers_cnipa_gbk.csv", out / "transfers_pledges.xlsx",
                  out / "transfers_platform.csv")
    atomic_write_bytes(f1, _encode_csv(notices, "gbk"))
    write_table(pl.DataFrame({h: [None if r.get(k) is None else str(r.get(k)) for r in pledges]
                              for k, h in HEADERS_ZH.items()},
                             schema={h: pl.String for h in HEADERS_ZH.values()}), f2)
    atomic_write_bytes(f3, _encode_csv(platform, "utf-8-sig"))
    return TransferFiles((f1, f2, f3), len(rows), n_bad, len(repeats))


__all__ = ["HEADERS_ZH", "TransferFiles", "transfer_rows", "write_transfers"]
