"""Problem/means/effect extraction: unit cases and precision on hand-checked real abstracts.

``data/extraction_gold.jsonl`` holds ids and character spans only (judged by hand on
KPPatent-ZH abstracts); the texts are read from ../shared/data.
"""

from __future__ import annotations

import json
from pathlib import Path

from labeling_spec.extract import (FIELDS, essential_features, extract_demand, extract_patent,
                                   extract_patent_spans)

GOLD = Path(__file__).parent / "data" / "extraction_gold.jsonl"
# judged AFTER the patterns were frozen: an unbiased estimate (the first set was tuned on)
HOLDOUT = Path(__file__).parent / "data" / "extraction_gold_holdout.jsonl"


def test_unit_cases() -> None:
    p, m, e = extract_patent("本发明公开了一种焊接方法，包括以下步骤：预热；焊接；冷却。"
                             "本发明解决了焊缝开裂的问题，具有强度高的优点。")
    assert p == "焊缝开裂" and m == "预热；焊接；冷却" and e == "强度高"
    assert extract_patent("") == (None, None, None)
    prob, means, eff = extract_demand("目前产品良率低，希望引进一种在线检测设备，良率提高到99%以上，可技术转让。")
    assert prob == "目前产品良率低" and means.startswith("在线检测设备") and eff and eff.startswith("提高到99%")


def test_essential_features() -> None:
    feats = essential_features("1.一种装置，包括底座，其特征在于：所述底座设有滑轨；所述滑轨上设有滑块。")
    assert feats == ("所述底座设有滑轨", "所述滑轨上设有滑块")
    assert essential_features(None) == ()


def _inside(pred: tuple[int, int], gold: list[int] | None) -> float:
    if gold is None:
        return 0.0
    overlap = max(0, min(pred[1], gold[1]) - max(pred[0], gold[0]))
    return overlap / (pred[1] - pred[0])


def _score(shared_data: Path, gold_file: Path) -> tuple[float, float, int]:
    rows = {}
    with (shared_data / "kppatent_zh" / "kppatent_zh_joined.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows[r["id"]] = r["abstract"]
    gold = [json.loads(x) for x in gold_file.read_text(encoding="utf-8").splitlines() if x.strip()]
    correct = extracted = expected = found = 0
    for g in gold:
        spans = extract_patent_spans(rows[g["id"]])
        for f in FIELDS:
            expected += g[f] is not None
            if spans[f] is None:
                continue
            extracted += 1
            ok = _inside(spans[f], g[f]) >= 0.6   # mostly inside the hand-marked span
            correct += ok
            found += ok and g[f] is not None
    precision, coverage = correct / extracted, found / expected
    print(f"{gold_file.name}: precision {precision:.2f} ({correct}/{extracted}); recall {coverage:.2f}")
    return precision, coverage, len(gold)


def test_precision_on_hand_checked_abstracts(shared_data: Path) -> None:
    precision, coverage, n = _score(shared_data, GOLD)
    assert n >= 30 and precision >= 0.85 and coverage >= 0.55


def test_precision_on_holdout_abstracts(shared_data: Path) -> None:
    precision, coverage, n = _score(shared_data, HOLDOUT)
    assert n >= 20 and precision >= 0.7 and coverage >= 0.4


def test_whole_phrases_and_stated_comparatives() -> None:
    p, m, e = extract_patent("本发明公开了一种涂层，通过在基体表面喷涂纳米陶瓷层，提高了耐腐蚀性能，"
                             "解决了传统涂层易剥落的问题。")
    assert e == "提高了耐腐蚀性能" and p == "涂层易剥落" and m == "在基体表面喷涂纳米陶瓷层"
    p, m, e = extract_patent("本发明公开了一种水稻种植方法，采用宽窄行种植，产量更高。")
    assert m == "采用宽窄行种植" and e == "产量更高"
    for junk in ("\x00，，更高。。", "，" * 500, "更高" * 300):
        assert all(x is None or isinstance(x, str) for x in extract_patent(junk))  # never raises


def test_long_spans_end_at_a_phrase_boundary() -> None:
    """A span over max_chars (160) ends at its last 。；，、 within 160 characters, never
    mid-word; a first phrase longer than that is kept whole (spec 2026.12.06-1)."""
    from labeling_spec.extract import load_extraction_spec

    limit = load_extraction_spec().max_chars
    parts = [f"第{i}支撑臂与第{i}连接板通过铰接轴活动连接" for i in range(1, 12)]
    text = "本发明公开了一种支架，包括" + "，".join(parts) + "。本发明具有结构稳定的优点。"
    m = extract_patent(text)[1]
    assert m is not None and len(m) <= limit
    assert m in text and text[text.index(m) + len(m)] == "，"  # ends where a phrase ends
    assert m.split("，")[-1] in parts  # the last phrase is whole
    one = "包括" + "甲乙丙丁" * 50  # one 200-character phrase: not cut inside
    m = extract_patent(f"本发明公开了一种装置，{one}。具有强度高的优点。")[1]
    assert m == one[2:] or m == one
    many = "、".join(f"组分{i}为{i}克" for i in range(30))
    m = extract_patent(f"本发明公开了一种组合物，包括{many}。")[1]
    assert m is not None and len(m) <= limit and m.split("、")[-1] in many.split("、")
