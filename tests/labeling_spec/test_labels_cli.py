"""`patmatch labels validate FILE`, and `patmatch label` staying quiet off a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_label_then_validate_roundtrip(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("id,title,abstract,ipc,许可使用费\nCN1A,一种电池,本发明公开了一种锂电池，"
                   "解决了寿命短的问题。,H01M10/0525,3万元/年\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    r = runner.invoke(app, ["label", str(src), "--out", str(out), "--kind", "patents"])
    assert r.exit_code == 0, r.output
    assert "标引" not in r.stderr  # no progress bar when stderr is not a terminal
    row = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert row["license_terms"]["payment"] == "按年"
    r = runner.invoke(app, ["labels", "validate", str(out)])
    assert r.exit_code == 0, r.output
    assert "全部符合规范" in r.stderr


def test_validate_names_every_problem_and_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"record_id": "X1", "chains": ["nope"], "trl": 12, "grade": "Z"},
                              ensure_ascii=False) + "\n" + json.dumps([1, 2]) + "\n",
                   encoding="utf-8")
    r = runner.invoke(app, ["labels", "validate", str(bad), "--kind", "patent"])
    assert r.exit_code == 1
    assert "X1" in r.stdout and "trl" in r.stdout and "grade" in r.stdout and "nope" in r.stdout
    assert "第 2 行" in r.stdout
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\xff\xfe{not json")
    r = runner.invoke(app, ["labels", "validate", str(junk)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    r = runner.invoke(app, ["labels", "validate", str(bad), "--kind", "bogus"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_progress_bar_quiet_off_terminal_and_shows_rate_on_one() -> None:
    import io
    import sys

    from api.cli.common import progress_bar

    with progress_bar(10, "标引") as update:
        update(10)  # stderr is not a terminal under pytest: nothing happens
    buf, old = io.StringIO(), sys.stderr
    sys.stderr = buf
    try:
        with progress_bar(10, "标引", force=True) as update:
            update(10)
    finally:
        sys.stderr = old
    assert "10/10" in buf.getvalue() and "/s" in buf.getvalue()


def test_validate_reads_every_format_label_writes_and_accepts_chinese_chain_names(
        tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("id,title,abstract,ipc\nCN1A,一种电池,本发明公开了一种锂电池，解决了寿命短的问题。,"
                   "H01M10/0525\nCN2A,一种光伏支架,本发明公开了一种光伏支架，具有强度高的优点。,H02S20/30\n",
                   encoding="utf-8")
    for fmt in (".csv", ".xlsx", ".parquet"):
        out = tmp_path / f"labels{fmt}"
        assert runner.invoke(app, ["label", str(src), "--out", str(out)]).exit_code == 0
        r = runner.invoke(app, ["labels", "validate", str(out)])
        assert r.exit_code == 0, (fmt, r.output)
        assert "检查 2 条标引：全部符合规范" in r.stderr
    # a reviewer edits the CSV: a Chinese chain name is fine, garbage is named cell by cell
    rows = (tmp_path / "labels.csv").read_text(encoding="utf-8-sig").splitlines()
    header = rows[0].split(",")
    edited = tmp_path / "edited.csv"
    edited.write_text(",".join(["record_id", "chains", "trl", "grade", "abstained"]) + "\n"
                      "CN1A,动力电池与新型储能；nope,十二,Z,maybe\n"
                      "CN2A,光伏,7,B,false\n", encoding="utf-8")
    assert "chains" in header
    r = runner.invoke(app, ["labels", "validate", str(edited), "--kind", "patent"])
    assert r.exit_code == 1
    out = r.stdout
    assert "第 1 行（CN1A）" in out and "nope" in out and "动力电池与新型储能" not in out
    assert "trl" in out and "十二" in out and "grade" in out and "abstained" in out
    assert "CN2A" in out and "光伏" in out  # not a chain name: 光伏 alone is neither id nor name
    zh = tmp_path / "zh.jsonl"
    zh.write_text(json.dumps({"record_id": "X", "chains": ["动力电池与新型储能", "pv"], "trl": 3,
                              "grade": "B"}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["labels", "validate", str(zh), "--kind", "patent"])
    assert r.exit_code == 0, r.output
