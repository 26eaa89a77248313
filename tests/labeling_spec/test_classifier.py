"""Weakly supervised chain classifier: quality floor on held-out rule-labelled data,
save/load, abstention, injected tokenizer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from patmatch.errors import DependencyError, InputError
from indexing.records import DemandRecord
from labeling_spec import Labeler
from labeling_spec.classifier import ChainClassifier, bigram_tokenize
from labeling_spec.evaluate import title_records


@pytest.fixture(scope="module")
def trained() -> tuple[Labeler, object]:
    records = title_records(limit_negatives=800, seed=1, sample=6000)
    random.Random(1).shuffle(records)
    lab = Labeler.load()
    report = lab.fit_classifier(records, holdout=0.25, seed=1, data="IPC titles (test)")
    return lab, report


def test_quality_floor_on_held_out(trained) -> None:
    lab, report = trained
    assert report.n_test >= 400
    assert report.micro_precision >= 0.7 and report.micro_recall >= 0.7
    assert report.top3_recall >= 0.9
    big = {c: m for c, m in report.per_chain.items() if m.support >= 30}
    assert big and all(m.precision >= 0.5 and m.recall >= 0.5 for m in big.values())


def test_demands_get_top3_or_abstain(trained) -> None:
    lab, _ = trained
    a, b = lab.label_demands([
        DemandRecord(id="d1", text="需要一种锂离子电池负极材料，提高电池循环寿命"),
        DemandRecord(id="d2", text="公司年会策划服务"),
    ])
    assert "classifier" in a.method and a.chains and a.chains[0] in ("battery_storage", "nev")
    assert len(a.top3) <= 3 and a.top3[0][1] >= a.top3[-1][1]
    assert b.abstained and b.chains == ()


def test_save_and_load(trained, tmp_path: Path) -> None:
    lab, report = trained
    lab.save(tmp_path / "spec")
    again = Labeler.load(tmp_path / "spec")
    assert again.classifier is not None and again.classifier.report == report
    text = ["一种光伏组件的封装方法"]
    assert again.classifier.predict_proba(text) == lab.classifier.predict_proba(text)
    assert again.version == lab.version


def test_injected_tokenizer_and_errors(tmp_path: Path) -> None:
    calls: list[str] = []

    def tok(text: str) -> list[str]:
        calls.append(text)
        return bigram_tokenize(text)

    texts = ["锂电池正极", "锂电池负极", "电池隔膜", "储能电池", "电池电解液",
             "光伏组件", "太阳能电池片", "光伏逆变器", "光伏支架", "硅片切割"]
    labels = [("battery_storage",)] * 5 + [("pv",)] * 5
    clf = ChainClassifier(["battery_storage", "pv"], tokenize=tok, min_positives=3)
    clf.fit(texts, labels)
    assert calls and clf.tokenizer_name == "custom"
    clf.save(tmp_path / "c")
    with pytest.raises(DependencyError, match="same tokenize"):
        ChainClassifier.load(tmp_path / "c")
    assert ChainClassifier.load(tmp_path / "c", tokenize=tok).fitted
    with pytest.raises(InputError, match="positive records"):
        ChainClassifier(["pv"], min_positives=5).fit(["光伏组件", "电池"], [("pv",), ()])
    with pytest.raises(DependencyError):
        ChainClassifier.load(tmp_path / "missing")
