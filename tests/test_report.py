"""`patmatch report`: record statistics, service statistics from the audit log, targets,
archive, and the CLI's errors."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from indexing.records import DemandRecord, PatentRecord
from indexing.store.stats import UNCHAINED, Period, record_stats
from patmatch.errors import InputError
from patmatch.settings import Settings

TODAY = _dt.datetime.now(_dt.UTC).date()
THIS_YEAR = Period(_dt.date(TODAY.year, 1, 1), TODAY)
LAST_YEAR = Period(_dt.date(TODAY.year - 1, 1, 1), _dt.date(TODAY.year - 1, 12, 31))


def _fill_store(settings: Settings) -> None:
    from indexing.store.record_store import open_store

    with open_store(settings) as store:
        store.upsert_patents([
            PatentRecord(id="P1", title="锂电池", abstract="一种锂电池正极材料。",
                         applicant_type="university", region="杭州", legal_status="有效"),
            PatentRecord(id="P2", title="电机", abstract="一种电机控制器。",
                         applicant_type="soe", region="杭州", legal_status="失效"),
            PatentRecord(id="P3", title="涂料", abstract="一种涂料。", open_license=True),
        ])
        store.upsert_demands([
            DemandRecord(id="D1", text="需要低温锂电池技术", chain="new_energy_vehicle",
                         owner="centre-a", contact_phone="13800000000"),
            DemandRecord(id="D2", text="需要电机散热", confidential=True, owner="centre-b"),
            DemandRecord(id="D3", text="已撤回的需求"),
        ])
        store.delete_demand("D3")
        store.save_labels("patents", {"P1": {"chains": ["new_energy_vehicle"]},
                                      "P2": {"chains": ["new_energy_vehicle", "high_end_equipment"]}},
                          "test")


def _audit(settings: Settings) -> None:
    from api.audit import AuditLog
    from api.db import open_api_db
    from api.security import KeyStore, Principal

    db = open_api_db(settings)
    keys = KeyStore(db)
    _, a = keys.create("A", "centre", centre="centre-a", chains=["new_energy_vehicle"])
    _, b = keys.create("B", "centre", centre="centre-b", chains=["high_end_equipment"])
    _, c = keys.create("C", "centre", centre="centre-c", chains=["biomedicine"])
    keys.revoke(c.key_id)
    log = AuditLog(db)
    pa = Principal(a.key_id, "A", "centre", "centre-a", ("new_energy_vehicle",))
    pb = Principal(b.key_id, "B", "centre", "centre-b", ("high_end_equipment",))
    analyst = Principal("x", "X", "analyst")
    log.record(pa, method="GET", path="/v1/demands/D1/matches", action="match.demand",
               target="D1", result_count=10)
    log.record(pa, method="GET", path="/v1/chains/x/pairs", action="chains.pairs",
               target="new_energy_vehicle", result_count=20)
    log.record(pb, method="GET", path="/v1/demands/D9/matches", action="match.demand",
               target="D9", result_count=0, status=404)  # a failure pushes nothing
    log.record(analyst, method="GET", path="/v1/jobs/j/result", action="jobs.download",
               target="j", result_count=5)
    log.record(analyst, method="GET", path="/v1/chains", action="chains.list", result_count=14)


def test_record_stats_per_chain_and_period(settings: Settings) -> None:
    from indexing.store.record_store import open_store

    _fill_store(settings)
    with open_store(settings) as store:
        now = record_stats(store, THIS_YEAR, {"new_energy_vehicle": "新能源汽车"})
        before = record_stats(store, LAST_YEAR)
    assert now["supply"] | {"by_applicant_type": None, "by_region": None} == {
        "patents": 3, "valid": 2, "new": 3, "labelled": 2, "open_license": 1,
        "by_applicant_type": None, "by_region": None}  # no status counts as valid
    assert now["demand"] == {"active": 2, "deleted": 1, "new": 2, "confidential": 1,
                             "labelled": 0}
    rows = {c["chain"]: c for c in now["chains"]}
    assert rows["new_energy_vehicle"] | {} == {
        "chain": "new_energy_vehicle", "name": "新能源汽车", "patents": 2, "patents_valid": 1,
        "patents_new": 2, "demands": 1, "demands_new": 1, "demands_confidential": 0,
        "centres": 1}
    assert rows[UNCHAINED]["patents"] == 1 and rows[UNCHAINED]["demands"] == 1
    assert now["chains"][-1]["chain"] == UNCHAINED and now["chains_with_patents"] == 2
    assert before["supply"]["new"] == 0 and before["demand"]["new"] == 0
    assert before["supply"]["patents"] == 3  # the stock is counted whatever the period


def test_usage_counts_views_centres_and_is_read_only(db_settings: Settings) -> None:
    from indexing.store.database import create_db_engine, database_url
    from api.usage import usage_stats

    engine = create_db_engine(database_url(db_settings))
    try:
        assert usage_stats(engine, THIS_YEAR)["available"] is False  # no tables yet
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # and none were made
        _audit(db_settings)
        u = usage_stats(engine, THIS_YEAR)
        assert u["requests"] == 5 and u["errors"] == 1
        assert u["views"] == 35
        assert u["views_by_action"] == {"match.demand": 10, "chains.pairs": 20,
                                        "jobs.download": 5}
        assert u["demands_served"] == 1
        assert u["centres_served"] == ["centre-a"]  # centre-b only failed
        assert u["centres_registered"] == ["centre-a", "centre-b"]  # centre-c is revoked
        assert u["audit_append_only"] is True and u["audit_entries_total"] == 5
        assert usage_stats(engine, LAST_YEAR)["views"] == 0
    finally:
        engine.dispose()


def test_report_targets_archive_and_markdown(settings: Settings) -> None:
    from api.reports.supply_demand import archive, build_report, render_markdown

    _fill_store(settings)
    _audit(settings)
    r = build_report(settings, THIS_YEAR)
    t = {x["target"]: x for x in r["targets"]}
    assert t["chains_labelled"]["actual"] == 2 and not t["chains_labelled"]["met"]
    assert t["base_records"]["actual"] == 0  # nothing published yet
    assert t["centres_served"]["actual"] == 1
    # page views are not pushes: only delivered subscription items count
    assert t["pushes_per_year"]["actual"] == 0 and not t["pushes_per_year"]["met"]
    assert t["reports_per_year"]["actual"] == 1
    md = render_markdown(r)
    assert "## 按产业链" in md and "centre-a" in md and "| 查看的匹配结果 (条，非推送) | 35 |" in md
    assert "## 对接漏斗" in md
    paths = archive(settings, r)
    assert [p.suffix for p in paths] == [".json", ".md"]
    assert json.loads(paths[0].read_text(encoding="utf-8"))["usage"]["views"] == 35
    # rerunning the same period is not another report; another period is
    again = build_report(settings, THIS_YEAR)
    assert {x["target"]: x for x in again["targets"]}["reports_per_year"]["actual"] == 1
    archive(settings, again)
    other = build_report(settings, Period(THIS_YEAR.start, THIS_YEAR.start))
    assert {x["target"]: x for x in other["targets"]}["reports_per_year"]["actual"] == 2


def test_period_parsing() -> None:
    p = Period.parse("2026-01-01", "2026-03-31")
    assert p.days == 90 and p.contains("2026-03-31T23:59:59+00:00") and not p.contains(None)
    assert Period.parse(None, None, today=_dt.date(2026, 5, 2)).start == _dt.date(2026, 1, 1)
    with pytest.raises(InputError, match="ISO date"):
        Period.parse("31/01/2026", None)
    with pytest.raises(InputError, match="before it starts"):
        Period.parse("2026-02-01", "2026-01-01")


def test_cli_report_writes_outputs_and_refuses_bad_input(settings: Settings, tmp_path: Path) -> None:
    from api.cli import app

    _fill_store(settings)
    runner = CliRunner()
    res = runner.invoke(app, ["report", "--type", "supply-demand", "--out", str(tmp_path / "r.xlsx")])
    assert res.exit_code == 0, res.output
    assert "chains_labelled" in res.output and (tmp_path / "r.xlsx").stat().st_size > 0
    import polars as pl

    sheet = pl.read_excel(tmp_path / "r.xlsx", sheet_name="chains")
    assert "new_energy_vehicle" in sheet["chain"].to_list()
    assert len(list((settings.home / "reports").glob("report-*.json"))) == 1
    bad = runner.invoke(app, ["report", "--type", "supply-demand", "--out", str(tmp_path / "r.txt")])
    assert bad.exit_code != 0 and "must end in .md, .json or .xlsx" in bad.output
    bad = runner.invoke(app, ["report", "--from", "yesterday"])
    assert bad.exit_code != 0 and "ISO date" in bad.output


def test_report_shows_chinese_names_not_ids() -> None:
    from api.reports.supply_demand import _zh

    assert _zh("nev|battery_storage") == "新能源汽车及汽车核心零部件、动力电池与新型储能"
    assert _zh("university/soe") == "高校、国有企业"
    assert _zh("某个未知值") == "某个未知值" and _zh(None) is None and _zh(3) == 3
