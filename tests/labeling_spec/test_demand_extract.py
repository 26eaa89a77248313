"""A demand's `means` is HOW (a method, device, formula); the goal it states (希望实现…,
又不降低…, 产量不降) is its effect, never part of the means (issue 15).

Inline sentences are written in the style of platform posts; the real ones are the
demands_dev texts, read from ../shared/data by id (only short expected spans live here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling_spec.extract import extract_demand


def test_goal_sentence_is_the_effect_not_the_means() -> None:
    p, m, e = extract_demand("我们的仓库靠人工盘点，错漏多。希望实现货架库存的自动识别和实时统计，可技术合作。")
    assert m is None
    assert e == "实现货架库存的自动识别和实时统计"
    assert p == "我们的仓库靠人工盘点，错漏多" or p == "错漏多" or p.endswith("错漏多")


def test_goal_with_place_prefix_is_not_cut_into_a_fragment() -> None:
    _, m, e = extract_demand("希望在管道外壁实现连续测温，并自动报警。")
    assert m is None  # was "在管道外壁": a head cut off by the goal
    assert e.startswith("在管道外壁实现连续测温")


def test_trailing_goal_clause_leaves_the_means() -> None:
    _, m, e = extract_demand("想找一种新的发酵配方，产量不降，寻求技术指导。")
    assert m == "新的发酵配方" and e == "产量不降"
    _, m, e = extract_demand("希望在涂料中加入一种抗紫外成分，同时不影响附着力。")
    assert m == "在涂料中加入一种抗紫外成分" and e == "不影响附着力"
    _, m, _ = extract_demand("想要一台全自动的封箱设备，欢迎报价和技术合作。")
    assert m == "全自动的封箱设备"  # neither "要…" nor the cooperation offer


def test_result_verb_inside_a_noun_phrase_stays_in_the_means() -> None:
    _, m, e = extract_demand("希望找到一套不用强酸、亮度能达到原来水平的清洗工艺，可技术转让。")
    assert m == "不用强酸、亮度能达到原来水平的清洗工艺" and e is None


def test_bare_qiu_asks_for_a_means_but_yaoqiu_does_not() -> None:
    _, m, _ = extract_demand("模具厂求新的冷却水路设计，解决注塑件变形的问题。")
    assert m == "新的冷却水路设计"
    _, m, e = extract_demand("客户要求产品耐高温，指标为300度以上。")
    assert m is None and e.endswith("300度以上")


def test_garbage_input() -> None:
    assert extract_demand("") == (None, None, None)
    assert extract_demand("希望。。。，，，") == (None, None, None)
    extract_demand("求" * 5000)  # no catastrophic backtracking, no exception


# --- real demands (demands_dev): the sentences the issue was about ---------------------------
REAL = {
    # id: (means is None | means must contain, effect must start with)
    "dD-048": (None, "在炉壳外表面实现"),
    "dD-060": (None, "实现机器人根据信号"),
    "dD-009": ("新配方及配套种植方法", "产量不降"),
    "dD-034": ("挡住有害短波光的成分", "不影响清晰度"),
    "dD-059": ("二维材料复合薄膜的制备技术", None),
    "dD-057": ("金刚石齿块排布设计", None),
}
GOAL_WORDS = ("实现", "不影响", "不降低", "产量不降", "欢迎", "又不")


@pytest.fixture(scope="module")
def demands(shared_data: Path) -> dict[str, str]:
    path = shared_data / "demands_dev" / "demands_kppatent.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found: real-demand test skipped")
    rows = (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip())
    return {r["id"]: r["text"] for r in rows}


@pytest.mark.parametrize("demand_id", sorted(REAL))
def test_real_demand_means_and_goal(demands: dict[str, str], demand_id: str) -> None:
    means_part, effect_head = REAL[demand_id]
    _, m, e = extract_demand(demands[demand_id])
    if means_part is None:
        assert m is None, m
    else:
        assert m and means_part in m, m
        assert not any(w in m for w in GOAL_WORDS), m
    if effect_head is not None:
        assert e and e.startswith(effect_head), e


def test_no_real_demand_means_carries_a_goal_clause(demands: dict[str, str]) -> None:
    bad = {}
    for did, text in demands.items():
        _, m, _ = extract_demand(text)
        if m and any(w in m for w in ("希望实现", "，又不", "，同时不影响", "产量不降", "欢迎报价")):
            bad[did] = m
    assert not bad, bad
