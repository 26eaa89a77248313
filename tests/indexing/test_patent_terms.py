"""Patent inputs carry problem/means/effect, TRL, citations, transfers and licence terms
(Chinese headers too); what a person gave wins over the labeler."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from indexing.intake.ingest import read_records
from labeling_spec.license_terms import fee_within, parse_fee


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


HEADER = ["公开号", "发明名称", "摘要", "技术问题", "技术手段", "有益效果", "技术成熟度", "被引次数",
          "转让次数", "许可次数", "许可方式", "许可使用费", "支付方式"]


def test_chinese_headers_structured_terms_and_person_wins(tmp_path: Path) -> None:
    from labeling_spec import Labeler

    p = _csv(tmp_path / "p.csv", HEADER, [
        ["CN1A", "一种叶片", "本发明公开了一种叶片，解决了噪声大的问题。", "", "锯齿尾缘", "产量更高",
         "6", "12", "1", "2", "开放许可", "3万元/年", ""],
        ["CN2A", "一种极片", "本发明公开了一种极片。", "", "", "", "", "", "", "", "", "一次性支付10万元", ""],
    ])
    recs, rejects = read_records("patents", p)
    assert not rejects
    a, b = recs
    assert (a.means, a.effect, a.trl, a.citations, a.transfer_count, a.license_count) == (
        "锯齿尾缘", "产量更高", 6, 12, 1, 2)
    assert (a.license_mode, a.license_fee_wan, a.license_fee_period, a.license_payment) == (
        "开放许可", 3.0, "年", "按年")
    assert (b.license_fee_wan, b.license_fee_period, b.license_payment) == (10.0, "一次", "一次性")
    la, lb = Labeler.load().label_patents(recs)
    assert la.problem and "噪声大" in la.problem  # inferred: nobody gave one
    assert la.means == "锯齿尾缘" and la.effect == "产量更高" and la.given == ("means", "effect")
    assert la.trl == 6 and "记录自带" in la.trl_reasons[0]
    assert any("被引 12 次" in r for r in la.grade_reasons)
    assert any("转让/许可 3 次" in r for r in la.grade_reasons)
    assert la.open_license and la.license_terms["mode"] == "开放许可"
    assert la.license_terms["fee_wan"] == 3.0 and la.license_terms["payment"] == "按年"
    assert lb.license_terms["payment"] == "一次性" and not lb.open_license


@pytest.mark.parametrize("col,value", [
    ("技术成熟度", "十"), ("技术成熟度", "12"), ("被引次数", "-3"), ("被引次数", "很多"),
    ("转让次数", "1.5"), ("许可方式", "随便"), ("支付方式", "刷卡"),
])
def test_garbage_terms_reject_the_row_and_name_the_field(tmp_path: Path, col: str, value: str) -> None:
    row = {h: "" for h in HEADER} | {"公开号": "CN9A", "发明名称": "一种装置", "摘要": "摘要文本。", col: value}
    p = _csv(tmp_path / "g.csv", HEADER, [[row[h] for h in HEADER]])
    recs, rejects = read_records("patents", p)
    assert not recs and len(rejects) == 1
    assert rejects[0].kind == "rejected"


@pytest.mark.parametrize("text,expect", [
    ("3万元/年", (3.0, "年", "按年")), ("一次性支付10万元", (10.0, "一次", "一次性")),
    ("入门费2万元+销售额3%提成", (2.0, None, "提成")), ("5000元/月", (0.5, "月", None)),
    ("面议", (None, None, None)), ("", (None, None, None)), ("\x00☃%%/年", (None, "年", "按年")),
])
def test_parse_fee(text: str, expect: tuple) -> None:
    f = parse_fee(text)
    assert (f.amount_wan, f.period, f.payment) == expect


def test_fee_within_budget() -> None:
    assert fee_within(parse_fee("5000元/月"), 5.0) is False  # 6 万元 a year
    assert fee_within(parse_fee("3万元/年"), 5.0) is True
    assert fee_within(parse_fee("面议"), 5.0) is None
    assert fee_within({"amount_wan": 2.0, "period": "一次"}, None) is None
