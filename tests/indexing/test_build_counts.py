"""Build counts agree with the store: deleted demands are counted (issue 13 finding 7)."""

from __future__ import annotations

from indexing.build.pipeline import build
from indexing.index.bundle import Manifest
from indexing.store.record_store import open_store
from tests.indexing._bundle_fakes import FakeEncoder, FakeLabeler, FakeTokenizer, make_records


def test_deleted_demand_count_matches_the_store(settings) -> None:  # noqa: ANN001
    pats, dems = make_records(20, 12)
    store = open_store(settings)
    store.upsert_patents(pats)
    store.upsert_demands(dems)
    for d in dems[:5]:
        store.delete_demand(d.id)
    bid = build(store, settings, tokenizer=FakeTokenizer(), encoder=FakeEncoder(),
                labeler=FakeLabeler())
    counts = Manifest.read(settings.staging_dir / bid).counts
    deleted = store.count_demands(include_deleted=True) - store.count_demands()
    assert deleted == 5
    assert counts["demands_dropped_deleted"] == deleted
    assert counts["demands"] == store.count_demands() == 7
    store.close()
