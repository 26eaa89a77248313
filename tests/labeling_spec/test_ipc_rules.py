"""Golden IPC cases, pattern semantics and exclusions."""

from __future__ import annotations

import pytest

from indexing.records import PatentRecord
from labeling_spec import Labeler, load_taxonomy
from labeling_spec.ipc import IpcPattern, ipc_title, normalize_ipc, parse_ipc
from labeling_spec.rules import ipc_hits


@pytest.mark.parametrize("raw, norm", [
    ("H01M10/0525", "H01M10/0525"), ("h01m 10/0525", "H01M10/0525"),
    ("H01M10/0525(2010.01)", "H01M10/0525"), ("H01M0010052500", "H01M10/0525"),
    ("Ｈ０１Ｍ１０／０５２５", "H01M10/0525"), ("B25J9/16", "B25J9/16"), ("H01M", "H01M"),
    ("not-ipc", None), ("", None), ("H01M10/", None),
])
def test_normalize(raw: str, norm: str | None) -> None:
    assert normalize_ipc(raw) == norm


@pytest.mark.parametrize("pattern, code, hit", [
    ("G06F1*", "G06F1/16", True), ("G06F1*", "G06F11/14", False),   # main group boundary
    ("H01M*", "H01M10/0525", True), ("H01*", "H01L31/18", True), ("H01M*", "H01L31/18", False),
    ("H01M10/05*", "H01M10/0525", True), ("H01M10/05*", "H01M10/42", False),
    ("H01M10/0525", "H01M10/0525", True), ("H01M10/0525", "H01M10/05", False),
    ("H01M10", "H01M10/42", True), ("H04L12/10*", "H04L12/12", False),
])
def test_pattern_semantics(pattern: str, code: str, hit: bool) -> None:
    assert IpcPattern.parse(pattern).matches(parse_ipc(code)) is hit


def _chains(code: str, text: str = "") -> dict[str, float]:
    return ipc_hits(load_taxonomy(), (code,), text).scores


def test_golden_battery() -> None:
    scores = _chains("H01M10/0525")
    assert scores["battery_storage"] >= 0.9
    assert scores["nev"] >= 0.5            # via SEI 5.2 新能源汽车装置、配件制造


def test_golden_pv_and_robot() -> None:
    assert set(_chains("H01L31/18")) == {"pv"}
    assert set(_chains("B25J9/16")) == {"smart_equipment"}


def test_exclusions_honoured() -> None:
    fuel_cell = ipc_hits(load_taxonomy(), ("H01M8/04",), "一种燃料电池")
    assert "battery_storage" not in fuel_cell.scores and "nev" in fuel_cell.scores
    assert any("battery_storage" in e and "H01M8*" in e for e in fuel_cell.excluded)
    assert "carbon_materials" not in _chains("C01B32/50", "二氧化碳")   # CO2 is not a carbon material
    assert "carbon_materials" in _chains("C01B32/184", "石墨烯")
    assert _chains("B62K11/00", "电动自行车") == {}                       # 非机动车
    # SEI official carve-out: G06F11/14 is excluded from branch 1.1 rule 0
    from labeling_spec.ipc import sei_rules

    rule0 = next(r for r in sei_rules() if r.sei_code == "1.1" and r.rule_idx == 0)
    assert rule0.match(parse_ipc("G06F11/14")) is None and rule0.match(parse_ipc("G06F11/10")) is not None


def test_keyword_condition_needed() -> None:
    assert "battery_storage" not in _chains("H02J7/00", "一种手机充电电路")
    assert "battery_storage" in _chains("H02J7/00", "一种储能电池的均衡充电电路")


def test_secondary_ipc_weighs_less_and_evidence_kept() -> None:
    hits = ipc_hits(load_taxonomy(), ("B25J9/16", "H01M10/0525"), "")
    assert hits.scores["smart_equipment"] > hits.scores["battery_storage"] * 0.8
    assert all(hits.evidence[c] for c in hits.scores)


def test_labeler_golden_through_records() -> None:
    lab = Labeler.load()
    out = lab.label_patents([
        PatentRecord(id="a", title="锂电池", abstract="一种锂离子电池", ipc=("H01M10/0525",)),
        PatentRecord(id="b", title="电池片", abstract="太阳能电池制造", ipc=("H01L31/18",)),
        PatentRecord(id="c", title="机器人", abstract="机械臂控制", ipc=("B25J9/16",)),
        PatentRecord(id="d", title="手套", abstract="一种劳保手套", ipc=("A41D19/00",)),
    ])
    assert [o.record_id for o in out] == ["a", "b", "c", "d"]
    assert out[0].chains[0] == "battery_storage" and "nev" in out[0].chains
    assert out[1].chains == ("pv",) and out[2].chains == ("smart_equipment",)
    assert out[3].chains == () and out[3].abstained and out[3].evidence
    assert all(o.method == "ipc_rules" for o in out)
    assert any("H01M10/0525" in e for e in out[0].evidence)


def test_ipc_titles_vendored() -> None:
    assert "电池" in (ipc_title("H01M10/0525") or "")
    assert ipc_title("H01M") and ipc_title("ZZZ") is None
