"""The taxonomy and spec files: shipped ones are valid; broken ones give clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from patmatch.errors import NotFoundError, RecordValidationError, SpecError
from labeling_spec import Labeler, load_taxonomy
from labeling_spec.spec import SPEC_DIR, SPEC_FILES
from labeling_spec.validate import check_labels, validate_labels

REQUIRED_IDS = {"nev", "battery_storage", "pv", "carbon_materials", "smart_equipment", "smart_grid",
                "industrial_internet", "ai", "biomedicine", "new_materials", "rail_transit", "smart_sensing"}


def test_shipped_taxonomy() -> None:
    tax = load_taxonomy()
    assert len(tax.chains) >= 8 and REQUIRED_IDS <= set(tax.ids)
    assert tax.version and tax.chain("pv").name_zh.startswith("以太阳能光伏")
    for c in tax.chains:
        assert c.name_zh and c.name_en and c.keywords and (c.sei_branches or c.ipc_rules)
    with pytest.raises(NotFoundError, match="unknown chain id"):
        tax.chain("nope")


def _write(tmp: Path, data: object) -> Path:
    p = tmp / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _base() -> dict:
    return yaml.safe_load((SPEC_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["chains"].append(dict(d["chains"][0])), "duplicate chain id 'nev'"),
    (lambda d: d["chains"][0].update(id="New Energy"), "ASCII slug"),
    (lambda d: d["chains"][0]["ipc_rules"].append({"pattern": "XYZ*"}), "expected an IPC pattern"),
    (lambda d: d["chains"][0]["sei_branches"].append({"code": "99.9"}), "SEI branch code"),
    (lambda d: d["chains"][1].update(keywords=[]), "at least one keyword"),
    (lambda d: d["chains"][1]["ipc_rules"][0].update(weight=3), r"in \(0, 1\]"),
    (lambda d: d.pop("version"), "version"),
    (lambda d: d["chains"][2].update(colour="red"), "unknown field"),
])
def test_taxonomy_errors(tmp_path: Path, mutate, message: str) -> None:
    data = _base()
    mutate(data)
    with pytest.raises(SpecError, match=message) as exc:
        load_taxonomy(_write(tmp_path, data))
    assert exc.value.details["errors"]


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "taxonomy.yaml"
    p.write_text("version: 1\nchains: [\n", encoding="utf-8")
    with pytest.raises(SpecError, match="line"):
        load_taxonomy(p)
    p.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(SpecError, match="mapping"):
        load_taxonomy(p)
    with pytest.raises(SpecError, match="expected a spec file"):
        load_taxonomy(tmp_path / "absent.yaml")


def test_operator_adds_a_chain(tmp_path: Path) -> None:
    for name in SPEC_FILES:
        shutil.copyfile(SPEC_DIR / name, tmp_path / name)
    data = _base()
    data["version"] = "test-2"
    data["chains"].append({"id": "hydrogen", "name_zh": "氢能", "name_en": "Hydrogen",
                           "ipc_rules": [{"pattern": "H01M8*"}], "keywords": ["氢能", "燃料电池"]})
    _write(tmp_path, data)
    lab = Labeler.load(tmp_path)
    assert lab.version.startswith("labels-test-2-") and lab.version != Labeler.load().version

    class R:  # duck-typed record
        id, title, abstract, ipc = "x", "燃料电池", "一种燃料电池堆", ("H01M8/04",)

    out = lab.label_patents([R()])[0]
    assert "hydrogen" in out.chains and "battery_storage" not in out.chains


@pytest.mark.parametrize("name, content, message", [
    ("maturity.yaml", "version: 1\nscale: {1: a}\nrules: []\n", "levels 1..9"),
    ("grading.yaml", "version: 1\nthresholds: {A: 40, B: 60}\nindicators: {legal_status: {weight: 1}}\n", "B < A"),
    ("extraction.yaml", "version: 1\npatent: {problem: ['(']}\ndemand: {}\n", "regular expression"),
    ("fields.yaml", "version: 1\npatent: {}\n", "expected a mapping 'patent'"),
])
def test_other_spec_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    from labeling_spec.extract import load_extraction_spec
    from labeling_spec.grading import load_grading_spec
    from labeling_spec.maturity import load_maturity_spec
    from labeling_spec.validate import load_fields

    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    loader = {"maturity.yaml": load_maturity_spec, "grading.yaml": load_grading_spec,
              "extraction.yaml": load_extraction_spec, "fields.yaml": load_fields}[name]
    with pytest.raises(SpecError, match=message):
        loader(str(p))


def test_labels_validation() -> None:
    good = {"record_id": "a", "chains": ["pv"], "trl": 4, "grade": "B", "chain_scores": {"pv": 0.9}}
    assert validate_labels(good, "patent") == []
    bad = {"record_id": "a", "chains": ["moon"], "trl": 12, "grade": "D", "chain_scores": {"pv": 3}}
    problems = validate_labels(bad, "patent")
    assert len(problems) == 4 and any("moon" in p for p in problems)
    with pytest.raises(RecordValidationError, match="do not follow the spec"):
        check_labels(bad, "patent")
    assert validate_labels({"record_id": "d", "cooperation_mode": "买卖", "deadline": "明年"}, "demand")
