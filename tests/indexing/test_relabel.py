"""Relabel on change: an updated record is labelled again before the next bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from indexing.build.nightly import run_nightly
from indexing.build.relabel import fresh_labels, is_stale, label_digest
from indexing.index.bundle import IndexBundle, current_bundle_path
from indexing.records import PatentRecord
from patmatch.errors import ConfigError
from patmatch.settings import Settings
from tests.indexing._bundle_fakes import FakeEncoder, FakeStore, FakeTokenizer, make_records


def _write(path: Path, abstract: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "abstract", "ipc", "legal_status"])
        w.writerow(["CN110000120B", "一种风机叶片", abstract, "F03D1/06", "授权"])
        for i in range(5):
            w.writerow([f"CN2000{i}A", f"电池极片{i}", "本发明公开了一种锂电池极片。", "H01M4/13", "授权"])


def _bundle_labels(settings: Settings, rid: str) -> dict:
    import polars as pl

    docs = pl.read_parquet(current_bundle_path(settings) / "patents" / "docs.parquet")
    row = docs.filter(pl.col("id") == rid).row(0, named=True)
    return json.loads(row["labels_json"])


def test_updated_abstract_reaches_the_next_bundle(settings: Settings) -> None:
    from labeling_spec import Labeler

    kw = {"tokenizer": FakeTokenizer(), "encoder": FakeEncoder(), "labeler": Labeler.load(),
          "evaluator": lambda _p: {"ndcg@10": 0.5}}
    _write(settings.inbox_dir / "patents" / "a.csv", "本发明公开了一种风机叶片，结构简单。")
    st = run_nightly(settings, **kw)
    assert st.status == "ok", st.error
    assert st.relabelled == {"patents": 6, "demands": 0}
    assert "低噪声" not in (_bundle_labels(settings, "CN110000120B")["effect"] or "")
    _write(settings.inbox_dir / "patents" / "b.csv",
           "本发明公开了一种风机叶片，通过设置锯齿尾缘，具有低噪声的优点。")
    st = run_nightly(settings, **kw)
    assert st.status == "ok", st.error
    assert st.relabelled == {"patents": 1, "demands": 0}  # only the changed record
    lab = _bundle_labels(settings, "CN110000120B")
    assert lab["effect"] and "低噪声" in lab["effect"]
    assert lab["record_digest"]
    m = IndexBundle.load(current_bundle_path(settings)).manifest
    assert m.labeler["taxonomy_version"] == Labeler.load().taxonomy.version
    again = run_nightly(settings, **kw)
    assert again.status == "unchanged" and again.relabelled == {"patents": 0, "demands": 0}


def test_build_refuses_stale_labels_without_labeler() -> None:
    pats, _ = make_records(3, 0)
    old = {p.id: {"record_id": p.id, "record_digest": label_digest(p)} for p in pats}
    changed = PatentRecord(**{**{f: getattr(pats[0], f) for f in pats[0].__dataclass_fields__},
                              "abstract": "新的摘要"})
    assert is_stale(old[pats[0].id], changed, None)
    with pytest.raises(ConfigError, match="older than the record"):
        fresh_labels("patents", [changed, *pats[1:]], old, None)
    got, new = fresh_labels("patents", pats, old, None)
    assert new == {} and set(got) == {p.id for p in pats}


def test_relabel_counts_changed_records() -> None:
    from indexing.build.relabel import relabel
    from tests.indexing._bundle_fakes import FakeLabeler

    store = FakeStore(*make_records(5, 2))
    assert relabel(store, FakeLabeler()) == {"patents": 5, "demands": 2}
    p = store.patents[0]
    store.patents[0] = PatentRecord(**{**{f: getattr(p, f) for f in p.__dataclass_fields__},
                                       "abstract": p.abstract + "。改"})
    assert relabel(store, FakeLabeler()) == {"patents": 1, "demands": 0}
    # garbage in the label store: a non-dict digest never crashes, it relabels
    store.labels["patents"][p.id]["record_digest"] = 12345
    assert relabel(store, FakeLabeler()) == {"patents": 1, "demands": 0}


def test_build_reads_each_label_set_once_and_uses_the_fresh_labels(settings: Settings) -> None:
    """The build relabels what changed and indexes the result without reading the label
    store again (50k labels cost ~1 s a read: the 1 % rebuild read them three times)."""
    from indexing.build.pipeline import build
    from indexing.store.record_store import open_store
    from tests.indexing._bundle_fakes import FakeLabeler

    pats, dems = make_records(6, 2)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)
        reads: list[str] = []
        real, real_iter = store.load_labels, store.iter_labels

        def counted(side: str) -> dict:
            reads.append(side)
            return real(side)

        def counted_iter(side: str):  # noqa: ANN202 - the streamed read counts as one
            reads.append(side)
            return real_iter(side)

        store.load_labels = counted  # type: ignore[method-assign]
        store.iter_labels = counted_iter  # type: ignore[method-assign]
        kw = {"tokenizer": FakeTokenizer(), "encoder": FakeEncoder(), "labeler": FakeLabeler()}
        build(store, settings, **kw)
        assert reads == []  # no label set yet: nothing to read, every record labelled
        changed = _edited(pats[0])
        store.upsert_patents([changed])
        reads.clear()
        bid = build(store, settings, **kw)
        assert sorted(reads) == ["demands", "patents"]
        saved = real("patents")
    import polars as pl

    docs = pl.read_parquet(settings.staging_dir / bid / "patents" / "docs.parquet")
    row = docs.filter(pl.col("id") == changed.id).row(0, named=True)
    assert json.loads(row["labels_json"])["record_digest"] == saved[changed.id]["record_digest"]
    assert saved[changed.id]["record_digest"] == label_digest(changed)


def _edited(p: PatentRecord) -> PatentRecord:
    return PatentRecord(**{**{f: getattr(p, f) for f in p.__dataclass_fields__},
                           "abstract": p.abstract + "。改"})
