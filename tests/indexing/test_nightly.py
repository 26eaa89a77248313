from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from indexing.index.bundle import IndexBundle, current_build_id, current_bundle_path
from indexing.build.nightly import (
    EXIT_FAILED, EXIT_GATE, EXIT_LOCKED, EXIT_OK, inbox_files, inbox_kind, relabel, run_nightly,
)
from indexing.build.publish import file_lock
from patmatch.settings import Settings
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeStore, FakeTokenizer, make_records,
)


def fakes(**kw):  # noqa: ANN003, ANN201
    return {"tokenizer": FakeTokenizer(), "encoder": FakeEncoder(), "labeler": FakeLabeler(),
            **kw}


def const(v: float):  # noqa: ANN201
    return lambda _p: {"ndcg@10": v}


def write_patents_csv(path: Path, n: int, start: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pats, _ = make_records(start + n, 0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "abstract", "legal_status", "ipc"])
        for p in pats[start:]:
            w.writerow([p.id, p.title, p.abstract, p.legal_status, ";".join(p.ipc)])


def status_file(settings: Settings) -> dict:
    return json.loads((settings.logs_dir / "nightly-status.json").read_text())


def log_lines(settings: Settings) -> list[str]:
    return (settings.logs_dir / "nightly.log").read_text().splitlines()


def test_inbox_to_published_bundle_with_real_store(settings: Settings) -> None:
    from indexing.store.record_store import open_store

    write_patents_csv(settings.inbox_dir / "patents" / "batch1.csv", 30)
    write_patents_csv(settings.inbox_dir / "新增专利.csv", 5, start=30)
    (settings.inbox_dir / "demands").mkdir(parents=True)
    (settings.inbox_dir / "demands" / "broken.csv").write_text("foo,bar\n1,2\n")
    (settings.inbox_dir / "mystery.csv").write_text("id,title\n")
    st = run_nightly(settings, evaluator=const(0.5), **fakes())
    assert st.exit_code == EXIT_OK and st.status == "ok", st.error
    assert current_build_id(settings) == st.published == st.build_id
    outcomes = {f["file"]: f["outcome"] for f in st.files}
    assert outcomes == {"batch1.csv": "processed", "新增专利.csv": "processed",
                        "broken.csv": "rejected", "mystery.csv": "rejected"}
    assert inbox_files(settings.inbox_dir) == []
    processed = list((settings.inbox_dir / "processed").iterdir())
    rejected = sorted(p.name for p in (settings.inbox_dir / "rejected").iterdir())
    assert len(processed) == 2 and any(n.endswith("broken.csv.error.txt") for n in rejected)
    assert st.counts["patents"] == 35 and st.relabelled["patents"] == 35
    assert st.quality["ndcg@10"] == 0.5
    assert status_file(settings)["status"] == "ok"
    line = log_lines(settings)[-1]
    assert "patmatch-nightly status=ok exit=0" in line and "patents=35" in line
    assert "rejected_files=2" in line and "ndcg@10=0.5000" in line
    from api.cli.index import nightly_summary  # what `patmatch nightly` prints, in Chinese

    said = nightly_summary(st)
    assert said.startswith("夜间重建：完成（退出码 0）") and "专利 35 条" in said
    assert "收件箱文件 4 个（拒收 2 个）" in said and "ndcg@10 0.5000" in said
    with open_store(settings) as store:
        assert len(store.load_labels("patents")) == 35
    b = IndexBundle.load(current_bundle_path(settings))
    assert b.manifest.labeler["version"] == FakeLabeler.version

    again = run_nightly(settings, evaluator=const(0.5), **fakes())
    assert again.status == "unchanged" and again.exit_code == EXIT_OK
    assert again.relabelled == {"patents": 0, "demands": 0}
    assert current_build_id(settings) == st.published


def test_gate_refusal_keeps_current(settings: Settings) -> None:
    store = FakeStore(*make_records(40, 10))
    first = run_nightly(settings, store=store, evaluator=const(0.7), **fakes())
    assert first.exit_code == EXIT_OK
    store.patents = store.patents[:-5]
    st = run_nightly(settings, store=store, evaluator=const(0.5), **fakes())
    assert st.exit_code == EXIT_GATE == 6 and st.status == "gate_refused"
    assert "0.5000" in st.error and current_build_id(settings) == first.published
    assert (settings.staging_dir / st.build_id).is_dir()  # kept for inspection
    assert "status=gate_refused exit=6" in log_lines(settings)[-1]


def test_failure_is_reported_not_raised(settings: Settings) -> None:
    store = FakeStore(*make_records(20, 5))
    ok = run_nightly(settings, store=store, **fakes())

    class Broken(FakeEncoder):
        def encode_documents(self, texts, **kw):  # noqa: ANN001, ANN003, ANN201
            raise RuntimeError("model file truncated")

    from dataclasses import replace

    store.patents[0] = replace(store.patents[0], abstract="全新 文本")  # a cache miss
    st = run_nightly(settings, store=store, **fakes(encoder=Broken()))
    assert st.exit_code == EXIT_FAILED and st.status == "failed"
    assert "model file truncated" in st.error
    assert current_build_id(settings) == ok.published
    assert status_file(settings)["error"] == st.error
    assert list(settings.staging_dir.glob(".*partial*")) == []


def test_lock_held_exits_cleanly_without_touching_status(settings: Settings) -> None:
    store = FakeStore(*make_records(10, 2))
    run_nightly(settings, store=store, **fakes())
    before = status_file(settings)
    with file_lock(settings.home / "nightly.lock"):
        st = run_nightly(settings, store=store, **fakes())
    assert st.exit_code == EXIT_LOCKED and st.status == "locked"
    assert status_file(settings) == before
    assert "status=locked exit=4" in log_lines(settings)[-1]


def test_relabel_merges_and_relabels_on_version_change() -> None:
    store = FakeStore(*make_records(10, 3))
    lab = FakeLabeler()
    assert relabel(store, lab) == {"patents": 10, "demands": 3}
    store.patents = store.patents[:8]
    assert relabel(store, lab) == {"patents": 0, "demands": 0}
    store.patents.extend(make_records(12, 0)[0][10:])
    assert relabel(store, lab) == {"patents": 2, "demands": 0}
    assert len(store.labels["patents"]) == 10  # 8 kept + 2 new, vanished ones dropped
    lab.version = "fake-labeler-2"
    assert relabel(store, lab) == {"patents": 10, "demands": 3}


@pytest.mark.parametrize("rel,kind", [
    ("patents/a.csv", "patents"), ("demands/x.xlsx", "demands"), ("专利0101.csv", "patents"),
    ("企业需求.jsonl", "demands"), ("data.csv", None), ("patent_demand.csv", None),
])
def test_inbox_kind(tmp_path: Path, rel: str, kind: str | None) -> None:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("x")
    assert inbox_kind(p, tmp_path) == kind


def test_stale_lock_of_a_dead_process_is_recovered(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "nightly.lock").write_text("999999999")  # owner long gone
    st = run_nightly(settings, store=FakeStore(*make_records(10, 2)), **fakes())
    assert st.exit_code == EXIT_OK and st.status == "ok"
    assert (settings.home / "nightly.lock").read_text() == str(st.pid)
