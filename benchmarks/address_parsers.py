"""Address -> province/city/district: jionlp vs cpca on real institution addresses.

Hand-labelled set: public addresses of universities, institutes and companies (as CNIPA
notices print them, with and without postcode/province), applicant names from the CNKI
sample export (../shared/data/samples, where only the name is known), old division names,
and strings that name no place. ``python -m benchmarks.address_parsers`` writes
``benchmarks/results/address_parsers.{json,md}``.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io
import json
import sys
import time
import types
from pathlib import Path

from benchmarks.report import machine_info
from patmatch.atomic_io import atomic_write_text

# (address, province, city, district); None = the truth names no such level
CASES = [
    ("213164 江苏省常州市武进区滆湖中路21号", "江苏省", "常州市", "武进区"),
    ("江苏省南京市鼓楼区汉口路22号", "江苏省", "南京市", "鼓楼区"),
    ("浙江省杭州市西湖区余杭塘路866号", "浙江省", "杭州市", "西湖区"),
    ("100084 北京市海淀区清华园1号", "北京市", "北京市", "海淀区"),
    ("上海市闵行区东川路800号", "上海市", "上海市", "闵行区"),
    ("116023 辽宁省大连市沙河口区中山路457号", "辽宁省", "大连市", "沙河口区"),
    ("江苏省南京市江宁区东南大学路2号", "江苏省", "南京市", "江宁区"),
    ("江苏省镇江市京口区学府路301号", "江苏省", "镇江市", "京口区"),
    ("黑龙江省哈尔滨市南岗区西大直街92号", "黑龙江省", "哈尔滨市", "南岗区"),
    ("湖北省武汉市洪山区珞喻路1037号", "湖北省", "武汉市", "洪山区"),
    ("四川省成都市武侯区一环路南一段24号", "四川省", "成都市", "武侯区"),
    ("陕西省西安市碑林区咸宁西路28号", "陕西省", "西安市", "碑林区"),
    ("湖南省长沙市岳麓区麓山南路932号", "湖南省", "长沙市", "岳麓区"),
    ("辽宁省大连市甘井子区凌工路2号", "辽宁省", "大连市", "甘井子区"),
    ("天津市南开区卫津路92号", "天津市", "天津市", "南开区"),
    ("重庆市沙坪坝区沙正街174号", "重庆市", "重庆市", "沙坪坝区"),
    ("福建省厦门市思明区思明南路422号", "福建省", "厦门市", "思明区"),
    ("安徽省合肥市包河区金寨路96号", "安徽省", "合肥市", "包河区"),
    ("广东省广州市番禺区广州大学城外环西路100号", "广东省", "广州市", "番禺区"),
    ("江苏省无锡市滨湖区蠡湖大道1800号", "江苏省", "无锡市", "滨湖区"),
    ("江苏省苏州市姑苏区十梓街1号", "江苏省", "苏州市", "姑苏区"),
    ("黑龙江省佳木斯市向阳区学府街148号", "黑龙江省", "佳木斯市", "向阳区"),
    ("广西壮族自治区南宁市西乡塘区大学东路100号", "广西壮族自治区", "南宁市", "西乡塘区"),
    ("内蒙古自治区呼和浩特市赛罕区大学西街235号", "内蒙古自治区", "呼和浩特市", "赛罕区"),
    ("新疆维吾尔自治区乌鲁木齐市天山区胜利路14号", "新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
    ("宁夏回族自治区银川市西夏区贺兰山西路489号", "宁夏回族自治区", "银川市", "西夏区"),
    ("山东省潍坊市高新技术产业开发区东方路268号", "山东省", "潍坊市", None),
    # no province, CNIPA-notice style
    ("常州市新北区太湖东路9号", "江苏省", "常州市", "新北区"),
    ("武进区常武中路18号", "江苏省", "常州市", "武进区"),
    ("溧阳市昆仑街道", "江苏省", "常州市", "溧阳市"),
    ("昆山市玉山镇", "江苏省", "苏州市", "昆山市"),
    ("江阴市澄江街道", "江苏省", "无锡市", "江阴市"),
    ("义乌市稠城街道", "浙江省", "金华市", "义乌市"),
    # abbreviations and old names
    ("江苏常州武进", "江苏省", "常州市", "武进区"),
    ("广东深圳南山", "广东省", "深圳市", "南山区"),
    ("江苏省常州市金坛市金城镇", "江苏省", "常州市", "金坛区"),
    # names only (CNKI sample applicants: the export has no address column)
    ("佳木斯大学", "黑龙江省", "佳木斯市", None),
    ("重庆电子工程职业学院", "重庆市", "重庆市", None),
    ("镇江市锶达合金材料有限公司", "江苏省", "镇江市", None),
    ("湖南农业大学", "湖南省", None, None),
    ("乐山职业技术学院", "四川省", "乐山市", None),
    # no place at all
    ("火星基地1号", None, None, None),
    ("地址不详", None, None, None),
    ("N/A", None, None, None),
]


def _jionlp():  # noqa: ANN202
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp
    return lambda a: (lambda r: (r["province"], r["city"], r["county"]))(jionlp.parse_location(a))


def _cpca():  # noqa: ANN202
    # cpca 0.5.5 imports pkg_resources, gone from setuptools >= 81: shim it to measure
    if "pkg_resources" not in sys.modules:
        shim = types.ModuleType("pkg_resources")
        shim.resource_stream = lambda pkg, name: importlib.resources.files(pkg).joinpath(name).open("rb")
        sys.modules["pkg_resources"] = shim
    import cpca

    def parse(a: str) -> tuple:
        df = cpca.transform([a])
        return tuple(None if (v is None or v != v or v == "") else v
                     for v in (df.iloc[0]["省"], df.iloc[0]["市"], df.iloc[0]["区"]))
    return parse


def _ours():  # noqa: ANN202
    from indexing.intake.regions import resolve_region

    return lambda a: (lambda r: (r.province, r.city, r.district))(resolve_region(a))


def score(parse) -> dict:  # noqa: ANN001
    hits = {"province": 0, "city": 0, "district": 0, "exact": 0}
    n = {"province": 0, "city": 0, "district": 0}
    misses = []
    t = time.perf_counter()
    for addr, *truth in CASES:
        got = tuple(parse(addr))
        for i, lvl in enumerate(("province", "city", "district")):
            if truth[i] is not None:
                n[lvl] += 1
                hits[lvl] += got[i] == truth[i]
        ok = all(truth[i] is None or got[i] == truth[i] for i in range(3)) and (
            any(truth) or not any(got))
        hits["exact"] += ok
        if not ok:
            misses.append({"address": addr, "truth": truth, "got": list(got)})
    ms = (time.perf_counter() - t) * 1000 / len(CASES)
    return {"accuracy": {k: round(hits[k] / (n[k] if k in n else len(CASES)), 3) for k in hits},
            "ms_per_address": round(ms, 2), "misses": misses}


def main() -> None:
    out = {"cases": len(CASES), "parsers": {}, "machine": machine_info() | {
        "note": "shared machine, busy (other helpers' tests)"}}
    for name, make in (("jionlp.parse_location", _jionlp), ("cpca.transform", _cpca),
                       ("patmatch resolve_region (jionlp on the address head)", _ours)):
        try:
            parse = make()
            parse(CASES[0][0])  # warm-up: loading the division tables is not per address
            out["parsers"][name] = score(parse)
        except Exception as exc:  # noqa: BLE001 - a parser that cannot run is a result
            out["parsers"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    res = Path(__file__).parent / "results" / "address_parsers"
    atomic_write_text(res.with_suffix(".json"), json.dumps(out, ensure_ascii=False, indent=2))
    lines = ["# Address parsers: province / city / district", "",
             f"{len(CASES)} hand-labelled addresses (see benchmarks/address_parsers.py). "
             "`exact` = every labelled level right and nothing invented for non-places.", "",
             "| parser | province | city | district | exact | ms/address |", "|---|---|---|---|---|---|"]
    for name, r in out["parsers"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error']} | | | | |")
            continue
        a = r["accuracy"]
        lines.append(f"| {name} | {a['province']} | {a['city']} | {a['district']} | {a['exact']} | "
                     f"{r['ms_per_address']} |")
    atomic_write_text(res.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    for name, r in out["parsers"].items():
        for m in r.get("misses", [])[:12]:
            print(name[:12], m)


if __name__ == "__main__":
    main()
