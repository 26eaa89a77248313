"""The record store's callers on both backends (``db_settings``: SQLite and PostgreSQL):
ingest -> build -> publish -> match through the ``patmatch`` command, the nightly run,
garbage input, and the build's reads streaming from a server-side cursor."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexing.records import PatentRecord
from indexing.store.record_store import open_store
from patmatch.settings import Settings

TOPICS = {
    "P-BAT": ("锂电池低温放电装置", "一种锂电池低温加热与放电管理装置，提高冬季续航。"),
    "P-PV": ("光伏组件清洗机器人", "一种光伏组件表面清洗机器人，减少灰尘遮挡损失。"),
    "P-CNC": ("数控机床主轴散热结构", "一种数控机床主轴的散热结构，降低热变形。"),
}


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_ingest_build_match_end_to_end(db_settings: Settings, tmp_path: Path) -> None:
    from api.cli import app
    from indexing.training.tiny_encoder import make_tiny_encoder

    rows = [[f"{k}-{i}", t, a + f"（第{i}种）", "有效"] for k, (t, a) in TOPICS.items()
            for i in range(5)]
    pats = _csv(tmp_path / "patents.csv", ["id", "title", "abstract", "legal_status"], rows)
    dems = _csv(tmp_path / "demands.csv", ["id", "title", "text", "contact_phone"],
                [["D1", "电池需求", "冬天锂电池低温放电掉电快，续航差", "13812345678"],
                 ["D2", "光伏需求", "光伏组件灰尘多，需要清洗机器人", ""]])
    run = CliRunner()
    for kind, f in (("patents", pats), ("demands", dems)):
        res = run.invoke(app, ["ingest", kind, str(f), "--json"])
        assert res.exit_code == 0, res.output
    again = run.invoke(app, ["ingest", "patents", str(pats), "--json"])
    report = json.loads(again.output[again.output.index("{"):])
    assert report["store"]["patents"] == 15 and report["unchanged"] == 15
    enc = make_tiny_encoder(tmp_path / "tiny", ["锂电池", "低温", "放电", "光伏", "清洗",
                                                "机器人", "机床", "散热"], dim=16)
    res = run.invoke(app, ["build", "--encoder", str(enc.path), "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    build_id = json.loads(res.output[res.output.index("{"):])["build_id"]
    assert run.invoke(app, ["publish", build_id]).exit_code == 0
    out = tmp_path / "matches.csv"
    res = run.invoke(app, ["match", "--all-demands", "--out", str(out), "--top-k", "3",
                           "--no-progress"])
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8-sig") as fh:
        got = list(csv.DictReader(fh))
    top = {}
    for r in got:
        qid = next(r[k] for k in r if k in ("query_id", "demand_id"))
        rid = next(r[k] for k in r if k in ("record_id", "patent_id"))
        top.setdefault(qid, rid)
    assert top["D1"].startswith("P-BAT") and top["D2"].startswith("P-PV"), got[:6]
    with open_store(db_settings) as store:  # the build labelled and kept the labels
        assert len(store.load_labels("patents")) == 15
        assert store.get_demand("D1").contact_phone == "13812345678"


@pytest.mark.parametrize("content", [
    b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50,
    "id,title\n" .encode() + b"\xff\xfe\x00" * 100,
    b"",
])
def test_garbage_files_store_nothing(db_settings: Settings, tmp_path: Path,
                                     content: bytes) -> None:
    from api.cli import app

    with open_store(db_settings) as store:
        store.upsert_patents([PatentRecord(id="P0", title="一种电池", abstract="电池。")])
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    res = CliRunner().invoke(app, ["ingest", "patents", str(bad)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    with open_store(db_settings) as store:
        assert store.counts()["patents"] == 1 and store.get_patent("P0") is not None


def test_nightly_with_the_real_store(db_settings: Settings) -> None:
    from indexing.build.nightly import EXIT_OK, run_nightly
    from tests.indexing._bundle_fakes import FakeEncoder, FakeLabeler, FakeTokenizer
    from tests.indexing.test_nightly import write_patents_csv

    fakes = {"tokenizer": FakeTokenizer(), "encoder": FakeEncoder(), "labeler": FakeLabeler()}
    write_patents_csv(db_settings.inbox_dir / "patents" / "batch1.csv", 30)
    st = run_nightly(db_settings, evaluator=lambda _p: {"ndcg@10": 0.5}, **fakes)
    assert st.exit_code == EXIT_OK and st.status == "ok", st.error
    assert st.counts["patents"] == 30 and st.relabelled["patents"] == 30
    again = run_nightly(db_settings, evaluator=lambda _p: {"ndcg@10": 0.5}, **fakes)
    assert again.status == "unchanged"


def test_reads_stream_from_a_server_side_cursor(db_settings: Settings, db_url: str) -> None:
    """PostgreSQL: iter_patents fetches from a named cursor a batch at a time (the whole
    result is never fetched at once); SQLite: its cursor is incremental by nature."""
    from sqlalchemy import text

    from indexing.store import record_sql

    with open_store(db_settings) as store:
        n = record_sql.STREAM * 2 + 7
        store.upsert_patents(PatentRecord(id=f"P{i:06d}", title=f"电池{i}", abstract="电池。")
                             for i in range(n))
        it = store.iter_patents()
        assert next(it).id == "P000000"
        if db_url.startswith("postgresql"):
            with store.engine.connect() as conn:
                queries = conn.execute(text(
                    "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND datname = current_database() AND state = 'idle in transaction'"
                )).scalars().all()
            assert any(q.startswith("FETCH FORWARD") for q in queries), queries
        ids = [p.id for p in it]
        assert len(ids) == n - 1 and ids == sorted(ids)
