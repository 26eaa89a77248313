"""Labels streamed in id order and written in parts (issue 19: relabelling and the build
read the store's labels as a cursor, never the whole set), on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from indexing.build.relabel import relabel
from indexing.store.record_store import open_store
from patmatch.settings import Settings
from tests.indexing._bundle_fakes import FakeLabeler, make_records


def test_iter_and_update_labels(db_settings: Settings) -> None:
    ids = ["P-b", "P_A", "P-B", "中文", "P-10", "P-9"]
    with open_store(db_settings) as store:
        store.save_labels("patents", {i: {"n": k} for k, i in enumerate(ids)}, "v1")
        assert [i for i, _ in store.iter_labels("patents")] == sorted(ids)  # byte order
        assert dict(store.iter_labels("patents"))["中文"] == {"n": 3}
        store.update_labels("patents", {"P-9": {"n": 99}, "new": {"n": 7}}, "v1",
                            drop=["P_A"])
        got = dict(store.iter_labels("patents"))
        assert got["P-9"] == {"n": 99} and got["new"] == {"n": 7} and "P_A" not in got
        assert len(got) == len(ids) + 1 - 1 and store.labels_version("patents") == "v1"
        store.update_labels("patents", {"x": {"n": 1}}, "v2", reset=True)
        assert dict(store.iter_labels("patents")) == {"x": {"n": 1}}
        assert store.labels_version("patents") == "v2"
        assert list(store.iter_labels("demands")) == []


def test_streamed_relabel_on_the_store(db_settings: Settings) -> None:
    pats, dems = make_records(25, 6)
    lab = FakeLabeler()
    with open_store(db_settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)
        assert relabel(store, lab, batch=4) == {"patents": 25, "demands": 6}
        assert relabel(store, lab, batch=4) == {"patents": 0, "demands": 0}
        store.delete_demand(dems[3].id)  # its label goes with the next write
        store.upsert_patents([replace(pats[7], abstract="改 电池")])
        assert relabel(store, lab, batch=4) == {"patents": 1, "demands": 0}
        assert relabel(store, lab, batch=4) == {"patents": 0, "demands": 0}
        lab.version = "fake-labeler-2"  # another labeler: the whole side again
        assert relabel(store, lab, batch=4) == {"patents": 25, "demands": 5}
        labels = dict(store.iter_labels("demands"))
        assert set(labels) == {d.id for d in dems} - {dems[3].id}
        assert store.labels_version("patents") == "fake-labeler-2"
