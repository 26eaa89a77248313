"""Known answers of the transfer statistics on the hand-made file (tests/transfer_sample.py)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from indexing.intake.transfers import ingest_transfers
from indexing.store import transfer_stats as ts
from indexing.store.database import create_db_engine
from indexing.store.tables_transfers import TransferRepository
from patmatch.errors import InputError
from tests.transfer_sample import write_sample


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("ts")
    repo = TransferRepository(create_db_engine(f"sqlite:///{tmp / 'db.sqlite'}"))
    repo.create()
    ingest_transfers([write_sample(tmp / "t.csv")], repo)
    return ts.prepare(repo.frame())


def test_totals_growth_and_series(frame) -> None:  # noqa: ANN001
    y25 = ts.ReportPeriod.parse("2025")
    cur, prev = ts.in_period(frame, y25), ts.in_period(frame, y25.previous_year())
    t25, t24 = ts.totals(cur), ts.totals(prev)
    assert (t24["events"], t24["conversions"], t24["amount_wan"], t24["pledges"]) == (3, 2, 450, 1)
    assert (t25["events"], t25["conversions"], t25["amount_wan"]) == (4, 4, 710)
    assert t25["distinct_assignees"] == 4 and t25["with_amount"] == 3
    g = ts.growth(t25["conversions"], t24["conversions"])
    assert g["rate"] == 1.0 and g["met"] is True
    assert ts.growth(1, 0)["rate"] is None
    assert [r["period"] for r in ts.series(frame, "year")] == ["2024", "2025"]
    q = {r["period"]: r for r in ts.by_type(frame, "quarter")}
    assert q["2024Q4"]["质押"] == 1 and q["2025Q1"]["转让"] == 1 and q["2024Q2"]["许可"] == 1


def test_flows_for_province_and_city(frame) -> None:  # noqa: ANN001
    js = ts.flows(frame, ts.jurisdiction("江苏省"))["summary"]
    assert (js["流入"]["count"], js["流出"]["count"], js["本地转化"]["count"]) == (2, 2, 2)
    assert js["流入"]["amount_wan"] == 210 and js["本地转化"]["amount_wan"] == 600
    cz = ts.flows(frame, ts.jurisdiction("常州"))
    s = cz["summary"]
    assert (s["流入"]["count"], s["流出"]["count"], s["本地转化"]["count"]) == (2, 0, 2)
    assert {r["region"] for r in cz["inflow_from"]} == {"大连市", "杭州市"}
    assert ts.jurisdiction("武进区").level == "district"
    with pytest.raises(InputError, match="not a province"):
        ts.jurisdiction("火星")


def test_institutions_sme_platform_chains_sankey(frame) -> None:  # noqa: ANN001
    inst = {r["assignor"]: r for r in ts.institutions(frame, {"常州大学": 20})}
    assert inst["常州大学"]["conversions"] == 2 and inst["常州大学"]["conversion_rate"] == 0.1
    assert inst["浙江大学"]["conversion_rate"] is None
    sme = ts.sme_receivers(frame)
    assert sme["enterprises"] == 5 and sme["events"] == 5
    p = ts.platform_share(frame)
    assert p["events"] == 1 and p["share"] == round(1 / 6, 4)
    assert ts.chains(frame)[0]["chain"] == "未标引"
    sk = ts.sankey(frame)
    assert {"source": "常州大学", "target": "→江苏省", "value": 2} in sk["links"]


def test_periods() -> None:
    q = ts.ReportPeriod.parse("2025Q3")
    assert (q.start, q.end, q.label) == (_dt.date(2025, 7, 1), _dt.date(2025, 9, 30), "2025年第3季度")
    assert ts.ReportPeriod.parse("2024年第1季度").previous_year().label == "2023年第1季度"
    assert ts.ReportPeriod.parse("2025-02").end == _dt.date(2025, 2, 28)
    assert ts.ReportPeriod.parse(None, "quarter", today=_dt.date(2026, 5, 1)).label == "2026年第2季度"
    for bad in ("2025Q5", "2025-13", "last year"):
        with pytest.raises(InputError, match="is not a year"):
            ts.ReportPeriod.parse(bad)
