"""Deals recorded through push feedback become transfer events of source ``platform``."""

from __future__ import annotations


from patmatch.settings import Settings


def test_platform_deals_become_events_once(settings: Settings) -> None:
    from api.push.feedback import Outcome
    from api.push.store import PushStore
    from api.push.subscriptions import Owner
    from api.reports.transfer_archive import generate
    from api.reports.transfer_sync import sync_platform_deals
    from indexing.records import DemandRecord, PatentRecord
    from indexing.store.database import create_db_engine, database_url
    from indexing.store.record_store import open_store
    from indexing.store.tables_push import create_push_tables
    from indexing.store.tables_transfers import open_transfers

    assert sync_platform_deals(settings).deals == 0  # no feedback table yet: says so
    with open_store(settings) as store:
        store.upsert_patents([PatentRecord(id="CN1234567A", title="电池", abstract="一种电池",
                                           applicant="常州大学", region="江苏省常州市")])
        store.upsert_demands([DemandRecord(id="D-1", text="需要电池技术", enterprise="常州青禾科技有限公司",
                                           region="常州市武进区")])
    engine = create_db_engine(database_url(settings))
    create_push_tables(engine)
    actor = Owner("k1", "operator", None, (), "ops")
    PushStore(engine).record_feedback(subject="D-1", demand_id="D-1", patent_id="CN1234567A",
                                      outcome=Outcome("deal", deal_type="许可", amount_wan=80,
                                                      date="2026-06-01"),
                                      actor=actor, source="api")
    got = sync_platform_deals(settings)
    assert (got.deals, got.inserted, got.rejected) == (1, 1, 0)
    assert sync_platform_deals(settings).unchanged == 1  # idempotent
    row = open_transfers(settings).frame().row(0, named=True)
    assert (row["source"], row["event_type"], row["assignor"], row["assignee"]) == (
        "platform", "普通许可", "常州大学", "常州青禾科技有限公司")
    assert row["assignee_district"] == "武进区" and row["amount_wan"] == 80.0
    doc, _ = generate(settings, "annual", "2026")
    assert doc["platform"]["events"] == 1 and doc["platform"]["share"] == 1.0
    assert "平台成交 1 笔" in doc["platform"]["sync"]
