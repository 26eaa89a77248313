"""Ingestion: counts always add up, rejects file, idempotence, one transaction, real files."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from typer.testing import CliRunner

from indexing.intake.ingest import ingest_files, read_records
from indexing.intake.validation import LIMITS
from indexing.store.record_store import open_store
from patmatch.errors import FileFormatError, MissingColumnError
from patmatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
VALID_ID = "11010519491231002X"


def _write_csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _patent_rows(n: int, start: int = 0) -> list[list[object]]:
    return [[f"CN{start + i:09d}A", f"一种电池{start + i}", f"本发明公开了一种电池{start + i}，解决了低温问题。",
             "H01M 10/0525", "常州大学", "2021/3/5"] for i in range(n)]


P_HEADER = ["公开号", "发明名称", "摘要", "IPC分类号", "申请人", "申请日"]


@pytest.fixture()
def store(settings: Settings):  # noqa: ANN201
    s = open_store(settings)
    yield s
    s.close()


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_counts_add_up_with_every_kind_of_bad_row(tmp_path: Path, store) -> None:  # noqa: ANN001
    rows = _patent_rows(5)
    rows += [
        ["CN900", "", "摘要", "H01M10/0525", "x", ""],                 # missing title
        ["CN901", "一种X", "摘要", "H01M-10/05X", "x", ""],             # malformed IPC
        ["CN902", "一种Y", "长" * (LIMITS["abstract"] + 1), "", "x", ""],  # over-long
        ["CN903", "一种Z", "摘要", "", "x", "2021-02-30"],               # bad date
        ["CN904", "<b>一种</b>W<script>x()</script>", "<p>摘要</p>", "", "x", ""],  # HTML: kept
        rows[0],                                                         # repeated id
        ["", "一种V", "摘要", "", "x", ""],                             # missing id
    ]
    p = _write_csv(tmp_path / "p.csv", P_HEADER, rows)
    r = ingest_files("patents", [p], store, rejects_dir=tmp_path / "rej")
    assert (r.read, r.accepted, r.updated, r.rejected, r.duplicates) == (12, 6, 0, 5, 1)
    assert r.balanced and r.cleaned["html_stripped"] == 1
    assert store.get_patent("CN904").title == "一种W"
    rej = _rejects(r.rejects_path)
    assert {(x["row"], x["field"], x["status"]) for x in rej} == {
        ("7", "title", "rejected"), ("8", "ipc", "rejected"), ("9", "abstract", "rejected"),
        ("10", "application_date", "rejected"), ("12", "id", "duplicate"), ("13", "id", "rejected")}
    assert all(x["source"] == "p.csv" and x["reason"] for x in rej)
    assert json.loads(rej[1]["raw"])["IPC分类号"] == "H01M-10/05X"  # the raw row, as it came


def test_reingest_is_idempotent_and_changes_are_updates(tmp_path: Path, store) -> None:  # noqa: ANN001
    p = _write_csv(tmp_path / "p.csv", P_HEADER, _patent_rows(4))
    first = ingest_files("patents", [p], store, rejects_dir=tmp_path)
    assert (first.accepted, first.duplicates, first.rejects_path) == (4, 0, None)
    again = ingest_files("patents", [p], store, rejects_dir=tmp_path)
    assert (again.accepted, again.updated, again.unchanged, again.duplicates) == (0, 0, 4, 4)
    rows = _patent_rows(4)
    rows[2][1] = "一种改进的电池"
    p2 = _write_csv(tmp_path / "p2.csv", P_HEADER, rows + _patent_rows(1, start=100))
    third = ingest_files("patents", [p2], store, rejects_dir=tmp_path)
    assert (third.read, third.accepted, third.updated, third.duplicates) == (5, 1, 1, 3)
    assert store.counts()["patents"] == 5


def test_exact_duplicate_text_under_other_ids(tmp_path: Path, store) -> None:  # noqa: ANN001
    rows = _patent_rows(2)
    p = _write_csv(tmp_path / "a.csv", P_HEADER, rows)
    ingest_files("patents", [p], store, rejects_dir=tmp_path)
    twin = ["CN777", rows[0][1], rows[0][2] + " ", "", "", ""]  # whitespace-insensitive
    same_batch = [["CN778", "一种唯一", "摘要甲", "", "", ""], ["CN779", "一种唯一", "摘要甲", "", "", ""]]
    r = ingest_files("patents", [_write_csv(tmp_path / "b.csv", P_HEADER, [twin, *same_batch])], store,
                     rejects_dir=tmp_path)
    assert sorted(r.duplicate_texts) == [("CN777", rows[0][0]), ("CN779", "CN778")]
    assert r.accepted == 3  # reported, not dropped: different ids may be different filings


def test_demands_validation_masking_and_rejects_file_has_no_personal_data(tmp_path: Path, store) -> None:  # noqa: ANN001
    header = ["需求编号", "需求名称", "需求描述", "合作方式", "技术成熟度", "联系人", "联系电话", "邮箱"]
    rows = [
        ["D1", "电池", f"冬天掉电快，联系人身份证{VALID_ID}", "技术转让", "TRL5", "张三", "138 1234 5678", "Zhang@Example.com"],
        ["D2", "焊接", "焊偏", "入股分红", "", "李四", "13900001111", "li@example.com"],
        ["D3", "焊接", "焊偏2", "许可", "12", "王五", "13900002222", "w@example.com"],
        ["D4", "焊接", "焊偏3", "许可", "", "赵六", "13900003333", "not-an-email"],
        ["D5", "焊接", "", "许可", "", "钱七", "13900004444", "q@example.com"],
    ]
    p = _write_csv(tmp_path / "d.csv", header, rows, encoding="gbk")
    r = ingest_files("demands", [p], store, rejects_dir=tmp_path / "rej")
    assert (r.accepted, r.rejected) == (1, 4) and r.balanced
    d = store.get_demand("D1")
    assert (d.cooperation_mode, d.required_trl, d.contact_phone, d.contact_email) == (
        "转让", 5, "13812345678", "zhang@example.com")
    assert VALID_ID not in d.text and r.cleaned["id_numbers_masked"] == 1
    fields = {x["row"]: x["field"] for x in _rejects(r.rejects_path)}
    assert fields == {"3": "cooperation_mode", "4": "required_trl", "5": "contact_email", "6": "text"}
    body = r.rejects_path.read_text(encoding="utf-8-sig")
    for secret in ("13900001111", "李四", "li@example.com", "not-an-email"):
        assert secret not in body
    assert "139****1111" in body and "李*" in body


def test_file_level_error_in_any_file_stores_nothing(tmp_path: Path, store) -> None:  # noqa: ANN001
    good = _write_csv(tmp_path / "good.csv", P_HEADER, _patent_rows(3))
    bad = _write_csv(tmp_path / "bad.csv", ["公开号", "发明名称"], [["CN1", "t"]])
    with pytest.raises(MissingColumnError):
        ingest_files("patents", [good, bad], store, rejects_dir=tmp_path)
    with pytest.raises(FileFormatError):
        ingest_files("patents", [good, tmp_path / "missing.csv"], store, rejects_dir=tmp_path)
    assert store.counts()["patents"] == 0


def test_dry_run_and_read_records_store_nothing(tmp_path: Path, store) -> None:  # noqa: ANN001
    p = _write_csv(tmp_path / "p.csv", P_HEADER, _patent_rows(3) + [["CN9", "", "x", "", "", ""]])
    r = ingest_files("patents", [p], store, rejects_dir=None, dry_run=True)
    assert (r.accepted, r.rejected, r.rejects_path) == (3, 1, None) and store.counts()["patents"] == 0
    ingest_files("patents", [p], store, rejects_dir=None)
    r2 = ingest_files("patents", [p], store, rejects_dir=None, dry_run=True)
    assert (r2.accepted, r2.unchanged, r2.duplicates) == (0, 3, 3)
    recs, rejects = read_records("patents", p)
    assert [x.ipc for x in recs] == [("H01M10/0525",)] * 3 and recs[0].application_date == "2021-03-05"
    assert recs[0].applicant_type == "university" and rejects[0].field == "title"


_KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from indexing.store import record_store as st
    from indexing.intake.ingest import ingest_files
    orig = st.SQLiteStore._patent_row
    n = [0]
    def slow(self, rec):
        n[0] += 1
        if n[0] == 300:
            print("MIDWAY", flush=True)
            time.sleep(120)
        return orig(self, rec)
    st.SQLiteStore._patent_row = slow
    s = st.open_store()
    ingest_files("patents", [sys.argv[1]], s, rejects_dir=None)
""")


def test_sigkill_mid_ingest_leaves_store_unchanged(tmp_path: Path, settings: Settings) -> None:
    s = open_store(settings)
    ingest_files("patents", [_write_csv(tmp_path / "a.csv", P_HEADER, _patent_rows(50))], s,
                 rejects_dir=None)
    before = [p for p in s.iter_patents()]
    s.close()
    rows = _patent_rows(1000, start=25)  # 25 updates of existing rows + new rows
    for r in rows[:25]:
        r[1] += "（修改）"
    big = _write_csv(tmp_path / "big.csv", P_HEADER, rows)
    env = os.environ | {"PATMATCH_HOME": str(settings.home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "MIDWAY", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    s = open_store(settings)
    assert [p for p in s.iter_patents()] == before
    s.close()


def test_cli_prints_equation_and_clear_errors(tmp_path: Path, settings: Settings) -> None:
    from api.cli import app

    p = _write_csv(tmp_path / "p.csv", P_HEADER, _patent_rows(3) + [["CN9", "", "x", "", "", ""]])
    res = CliRunner().invoke(app, ["ingest", "patents", str(p), "--rejects-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "专利入库：读取 4 = 新增 3 + 更新 0 + 拒收 1 + 重复 0" in res.output
    bad = _write_csv(tmp_path / "bad.csv", ["id"], [["1"]])
    res = CliRunner().invoke(app, ["ingest", "demands", str(bad)])
    assert res.exit_code == 2 and "missing required column" in res.output
    assert "Traceback" not in res.output and "需求描述" in res.output
    res = CliRunner().invoke(app, ["ingest", "patents", str(tmp_path / "x.doc")])
    assert res.exit_code == 2 and "file not found" in res.output


def test_real_samples_counts_add_up(shared_data: Path, store, tmp_path: Path) -> None:  # noqa: ANN001
    samples = shared_data / "samples"
    cpc = ingest_files("patents", sorted(samples.glob("sample_*.csv")), store, rejects_dir=tmp_path)
    assert (cpc.read, cpc.accepted, cpc.rejected, cpc.duplicates) == (57, 57, 0, 0) and cpc.blank_rows > 1000
    assert store.get_patent("CN117151122A").ipc[0] == "G06F16/3329"
    cnki = ingest_files("patents", [samples / "cnki_material_chemistry_2018_2019.xlsx"], store,
                        rejects_dir=tmp_path)
    assert (cnki.read, cnki.accepted, cnki.rejected) == (33, 33, 0)
    p = store.get_patent("CN108982325A")
    assert p.applicant_type == "university" and p.application_date == "2018-07-30" and len(p.inventors) == 4
    again = ingest_files("patents", [samples / "cnki_material_chemistry_2018_2019.xlsx"], store,
                         rejects_dir=tmp_path)
    assert (again.accepted, again.duplicates) == (0, 33)


def test_real_kppatent_jsonl_counts_add_up(shared_data: Path, store, tmp_path: Path) -> None:  # noqa: ANN001
    r = ingest_files("patents", [shared_data / "kppatent_zh" / "kppatent_zh_joined.jsonl"], store,
                     rejects_dir=tmp_path)
    assert r.read == 3720 and r.balanced and r.duplicates == 0
    assert r.accepted > 650 and r.accepted + r.rejected == 3720
    reasons = {x["field"] for x in _rejects(r.rejects_path)}
    assert reasons <= {"title", "abstract"}  # the train split has no titles
    assert store.counts()["patents"] == r.accepted


_ROW = st.tuples(
    st.sampled_from(["CN1", "CN2", "CN3", "CN4", "", "bad id!"]),
    st.sampled_from(["一种电池", "", "<b>一种</b>灯", "标" * 501]),
    st.sampled_from(["摘要", "", "&lt;摘要&gt;"]),
    st.sampled_from(["H01M10/0525", "", "H01M-1", "H01M 10/0525;B60L15/20"]),
    st.sampled_from(["2021/3/5", "", "2021-02-30"]),
)


@settings_(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=12))
def test_counts_always_add_up(tmp_path: Path, rows: list[tuple[str, ...]]) -> None:
    p = _write_csv(tmp_path / "h.csv", ["id", "title", "abstract", "ipc", "application_date"],
                   [list(r) for r in rows])
    r = ingest_files("patents", [p], None, rejects_dir=tmp_path / "rej", dry_run=True)
    assert r.read + r.blank_rows == len(rows) and r.balanced
    assert r.accepted + r.rejected + r.repeated_ids == r.read
    lines = _rejects(r.rejects_path) if r.rejects_path else []
    assert len(lines) == r.rejected + r.repeated_ids
    if r.rejects_path:
        r.rejects_path.unlink()


def test_demand_chain_accepts_ids_and_chinese_names() -> None:
    from indexing.intake.validation import normalize_chain

    stats: dict[str, int] = {}
    assert normalize_chain("pv", stats) == "pv"
    assert normalize_chain("新能源汽车", stats) == "nev"
    assert normalize_chain("工业互联网", stats) == "industrial_internet"
    assert normalize_chain("新型碳材料", stats) == "carbon_materials"
    assert normalize_chain("造船", stats) == "造船" and stats == {"chain_unknown": 1}


def test_parquet_with_typed_and_list_columns(tmp_path: Path, store) -> None:  # noqa: ANN001
    import datetime

    import polars as pl

    pl.DataFrame({
        "id": ["CN1"], "title": ["一种电池"], "abstract": ["本发明公开了一种电池。"],
        "ipc": [["H01M 10/0525", "H01M4/587"]], "inventors": [["李一", "王二"]],
        "open_license": [True], "application_date": [datetime.date(2021, 3, 5)],
    }).write_parquet(tmp_path / "p.parquet")
    r = ingest_files("patents", [tmp_path / "p.parquet"], store, rejects_dir=tmp_path)
    assert r.accepted == 1
    p = store.get_patent("CN1")
    assert p.ipc == ("H01M10/0525", "H01M4/587") and p.inventors == ("李一", "王二")
    assert p.open_license is True and p.application_date == "2021-03-05"
