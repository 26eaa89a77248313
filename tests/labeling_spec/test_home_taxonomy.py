"""An operator's taxonomy in the data home ($PATMATCH_HOME/taxonomy.yaml) is what the
labeler, the build (manifest) and chain-name resolution use; a broken one fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labeling_spec.chains import load_taxonomy
from labeling_spec.spec import SPEC_DIR
from patmatch.errors import NotFoundError, SpecError


def _with_hydrogen(home: Path) -> None:
    data = yaml.safe_load((SPEC_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    data["version"] = "home-2026.12.05-1"
    data["chains"].append({"id": "hydrogen", "name_zh": "氢能", "name_en": "Hydrogen",
                           "ipc_rules": [{"pattern": "C25B1/04"}], "keywords": ["制氢", "氢燃料"]})
    (home / "taxonomy.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_home_taxonomy_reaches_labeler_build_and_names(home: Path) -> None:
    from indexing.build.pipeline import build_bundle
    from indexing.index.bundle import Manifest
    from indexing.records import PatentRecord
    from labeling_spec import Labeler
    from tests.indexing._bundle_fakes import FakeEncoder, FakeTokenizer

    _with_hydrogen(home)
    tax = load_taxonomy()
    assert tax.version == "home-2026.12.05-1" and tax.resolve("氢能") == "hydrogen"
    assert tax.resolve(" 动力电池与新型储能 ") == "battery_storage"
    with pytest.raises(NotFoundError, match="氢能"):
        tax.resolve("不存在的链")
    lab = Labeler.load()
    rec = PatentRecord("CN1A", "一种电解水制氢装置", "本发明公开了一种制氢装置。", ipc=("C25B1/04",))
    assert "hydrogen" in lab.label_patents([rec])[0].chains
    out = build_bundle([rec], [], out_dir=home / "b1", tokenizer=FakeTokenizer(),
                       encoder=FakeEncoder(), labeler=lab)
    assert Manifest.read(out).labeler["taxonomy_version"] == "home-2026.12.05-1"


@pytest.mark.parametrize("content", [b"\xff\xfe not utf8", b"version: [unclosed", b"- a list\n",
                                     b"version: x\nchains: []\n"])
def test_broken_home_taxonomy_names_the_file(home: Path, content: bytes) -> None:
    (home / "taxonomy.yaml").write_bytes(content)
    with pytest.raises(SpecError) as exc:
        load_taxonomy()
    assert "taxonomy.yaml" in exc.value.message
