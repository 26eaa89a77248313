"""Transfer events: known answers, rejects with reasons, idempotent re-ingest, formats."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from indexing.intake.transfers import amount, event_type, ingest_transfers, patent_key
from indexing.intake.regions import resolve_region
from indexing.store.database import create_db_engine
from indexing.store.tables_transfers import TransferRepository, transfer_events
from labeling_spec.party_types import infer_party_type
from tests.transfer_sample import GOOD, HEADER, write_sample


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("PATMATCH_TEST_DATABASE_URL") else ["sqlite"]


@pytest.fixture(params=_backends())
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TransferRepository]:
    """The repository on SQLite, and on PostgreSQL when the CI provides one."""
    if request.param == "sqlite":
        r = TransferRepository(create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
        r.create()
        yield r
        return
    try:
        engine = request.getfixturevalue("pg_engine")  # the database helper's fixture
    except pytest.FixtureLookupError:
        engine = create_db_engine(os.environ["PATMATCH_TEST_DATABASE_URL"])
    r = TransferRepository(engine)
    transfer_events.drop(engine, checkfirst=True)
    r.create()
    yield r
    transfer_events.drop(engine, checkfirst=True)


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_known_file_counts_rejects_and_reingest(tmp_path: Path, repo: TransferRepository) -> None:
    f = write_sample(tmp_path / "转移.csv")
    rep = ingest_transfers([f], repo, rejects_dir=tmp_path / "rej")
    assert (rep.read, rep.accepted, rep.updated, rep.rejected, rep.duplicates) == (12, 7, 0, 4, 1)
    assert rep.balanced and repo.count() == 7
    reasons = {r["field"]: r["reason"] for r in _rejects(rep.rejects_path) if r["status"] == "rejected"}
    assert "unknown event type '赠与'" in reasons["event_type"]
    assert "2026-13-40" in reasons["effective_date"]
    assert "negative" in reasons["amount_wan"]
    assert "火星基地1号" in reasons["assignee_address"] and "resolves to no" in reasons["assignee_address"]
    again = ingest_transfers([f], repo, rejects_dir=tmp_path / "rej")
    assert (again.accepted, again.updated, again.duplicates) == (0, 0, 8) and repo.count() == 7
    df = repo.frame()
    row = df.filter(pl.col("patent_id") == "ZL201810000002.2").row(0, named=True)
    assert row["event_type"] == "独占许可" and row["event_group"] == "许可"
    assert row["effective_date"] == "2024-06-01" and row["amount_wan"] == 50.0
    assert (row["assignor_province"], row["assignor_city"]) == ("江苏省", "南京市")
    assert row["assignee_province"] == "上海市" and row["assignor_type"] == "university"
    assert df.filter(pl.col("source") == "platform").height == 1


def test_corrected_row_is_an_update_and_ids_are_stable(tmp_path: Path,
                                                       repo: TransferRepository) -> None:
    f = tmp_path / "a.jsonl"
    rows = [dict(zip(HEADER, r)) for r in GOOD[:2]]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    ingest_transfers([f], repo)
    ids = set(repo.frame()["id"])
    rows[0]["合同金额(万元)"] = "120"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    rep = ingest_transfers([f], repo)
    assert (rep.accepted, rep.updated, rep.duplicates) == (0, 1, 1)
    assert set(repo.frame()["id"]) == ids


def test_xlsx_and_parquet_read_the_same(tmp_path: Path, repo: TransferRepository) -> None:
    df = pl.DataFrame([dict(zip(HEADER, r)) for r in GOOD])
    df.write_excel(tmp_path / "t.xlsx")
    df.write_parquet(tmp_path / "t.parquet")
    rep = ingest_transfers([tmp_path / "t.xlsx"], repo)
    assert rep.accepted == 7
    assert ingest_transfers([tmp_path / "t.parquet"], repo).duplicates == 7


def test_garbage_inputs(tmp_path: Path, repo: TransferRepository) -> None:
    from patmatch.errors import PatmatchError

    bad = tmp_path / "x.csv"
    bad.write_bytes(b"\x00\xff\xfe garbage \x81")
    with pytest.raises(PatmatchError):
        ingest_transfers([bad], repo)
    nocol = tmp_path / "y.csv"
    nocol.write_text("专利号,生效日\nZL1,2025-01-01\n", encoding="utf-8")
    with pytest.raises(PatmatchError, match="missing required column"):
        ingest_transfers([nocol], repo)
    assert repo.count() == 0


@pytest.mark.parametrize(("raw", "want"), [("50", 50.0), ("50万元", 50.0), ("500000元", 50.0),
                                           ("1,200.5", 1200.5), ("面议", None), (None, None)])
def test_amounts(raw: object, want: float | None) -> None:
    assert amount(raw) == want


def test_event_types_and_keys() -> None:
    assert event_type("许可", "排他") == "排他许可"
    assert event_type("专利实施许可（独占）") == "独占许可"
    assert event_type("作价投资") == "作价入股" and event_type("Pledge") == "质押"
    assert patent_key("ZL 2018 1000 0001.1") == patent_key("CN201810000001.1") == "201810000001.1"


def test_regions_and_party_types() -> None:
    r = resolve_region("213164 江苏省常州市武进区滆湖中路21号")
    assert (r.province, r.city, r.district) == ("江苏省", "常州市", "武进区")
    assert resolve_region("溧阳市昆仑街道").city == "常州市"
    assert not resolve_region("火星基地1号").resolved and not resolve_region("").resolved
    assert infer_party_type("常州大学") == "university"
    assert infer_party_type("中国科学院大连化学物理研究所") == "institute"
    assert infer_party_type("国网江苏省电力有限公司") == "soe"
    assert infer_party_type("常州青禾科技有限公司") == "enterprise"
    assert infer_party_type("张三") == "individual"
    # the override file wins over the name rule
    assert infer_party_type("常州市科教城投资发展有限公司") == "soe"
    assert infer_party_type("某某公司", overrides={"某某公司": "institute"}) == "institute"


def test_cli_ingest_transfers(tmp_path: Path, settings) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from api.cli import app

    f = write_sample(tmp_path / "t.csv")
    res = CliRunner().invoke(app, ["ingest", "transfers", str(f)])
    assert res.exit_code == 0, res.output
    assert "转化事件入库：读取 12 = 新增 7 + 更新 0 + 拒收 4 + 重复 1" in res.output
    res = CliRunner().invoke(app, ["ingest", "transfers", "--json", str(f)])
    assert res.exit_code == 0 and '"duplicates": 8' in res.output and res.output.lstrip()[0] == "{"
    bad = CliRunner().invoke(app, ["ingest", "transfers", str(tmp_path / "none.csv")])
    assert bad.exit_code != 0 and "file not found" in bad.output


def test_address_head_cache_keeps_every_level() -> None:
    r = resolve_region("江苏省南京市鼓楼区汉口路22号")
    assert (r.province, r.city, r.district) == ("江苏省", "南京市", "鼓楼区")
    r = resolve_region("广西壮族自治区南宁市西乡塘区大学东路100号")
    assert (r.city, r.district) == ("南宁市", "西乡塘区")


def test_demo_transfer_histories(tmp_path: Path, repo: TransferRepository) -> None:
    import datetime as dt

    from indexing.training.demo_data.transfers import write_transfers

    patents = [{"id": f"CN{i:07d}A", "applicant": n, "region": reg} for i, (n, reg) in
               enumerate([("常州大学", "江苏省常州市"), ("浙江大学", "浙江省杭州市"),
                          ("中国科学院电工研究所", "北京市")] * 20)]
    files = write_transfers(tmp_path, patents, 1500, seed=3, today=dt.date(2026, 12, 1))
    assert [f.suffix for f in files.files] == [".csv", ".xlsx", ".csv"]
    files.files[0].read_bytes().decode("gbk")  # the notices are GBK, as offices export them
    rep = ingest_transfers(files.files, repo)
    assert rep.balanced and rep.rejected >= files.n_bad - 1 and rep.accepted >= 1400
    df = repo.frame().with_columns(pl.col("effective_date").str.slice(0, 4).alias("y"))
    per_year = dict(df.group_by("y").len().iter_rows())
    assert per_year["2025"] > per_year["2021"] * 1.5  # growth over the years
    assert df.filter(pl.col("source") == "platform").height > 0
    assert df.filter(pl.col("assignor_province") != pl.col("assignee_province")).height > 100
    assert df["amount_wan"].max() >= 2000 or df["amount_wan"].max() > 500  # large licences
