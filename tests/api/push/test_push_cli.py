"""The push commands over a real store and real bundles (tiny encoder): subscriptions,
`patmatch push [--dry-run]`, publish starting the push without waiting, feedback import."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.push.store import open_push_store
from patmatch.settings import Settings, get_settings
from tests.api.conftest import DEMANDS, PATENTS
from tests.api.test_live import _bundle

runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("matcher.ranker")
    from indexing.build.publish import publish
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.store.record_store import open_store

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PATMATCH_HOME", str(home))
    get_settings.cache_clear()
    settings = Settings(home=home)
    enc = home / "tiny-encoder"
    vocab = sorted({w for p, _ in PATENTS for w in (p.title[2:6], p.title[-4:])} |
                   {"电池", "低温", "散热", "光伏", "充电"})
    make_tiny_encoder(enc, vocab, dim=32, seed=0)
    store = open_store(settings)
    patents = [p for p, _ in PATENTS]
    store.upsert_patents(patents)
    store.upsert_demands(DEMANDS)
    store.close()
    _bundle(settings, "live-1", [p for p in patents if p.id != "P-BAT-1"], DEMANDS, enc)
    _bundle(settings, "live-2", patents, DEMANDS, enc)
    publish(settings, "live-1")
    yield home
    get_settings.cache_clear()


def cli(*args: str, code: int = 0) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == code, (args, r.output)
    return r.output


def test_subscribe_push_publish_and_only_new_pairs(home: Path) -> None:
    out = cli("subscriptions", "add", "--demand", "D-B-PUB", "--top-n", "2", "--centre",
              "cz-bat", "--centre-chain", "battery_storage", "--name", "低温电池")
    sid = out.split()[1]
    assert "到期订阅 1 个" in cli("push", "--dry-run")
    store = open_push_store(get_settings())
    assert store.list_deliveries(sid)[0] == 0  # a dry run changes nothing
    out = cli("push")
    assert "已发送 2 条" in out, out
    assert len(list((home / "outbox" / sid).glob("*.xlsx"))) == 1
    first = {d.patent_id for d in store.list_deliveries(sid)[1]}
    assert "入队 0 条" in cli("push")  # same bundle: nothing new, nothing twice

    out = cli("publish", "live-2")  # P-BAT-1 arrives; the push runs in a child process
    assert "正在后台推送新的匹配结果" in out
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and store.list_deliveries(sid)[0] < 3:
        time.sleep(0.5)
    rows = store.list_deliveries(sid)[1]
    assert {d.patent_id for d in rows} - first == {"P-BAT-1"}, (home / "logs" / "push.log"
                                                                 ).read_text()
    assert len(rows) == len({d.patent_id for d in rows})

    cli("subscriptions", "pause", sid)
    assert "没有生效的订阅" in cli("push", "--all")
    cli("subscriptions", "resume", sid)
    assert sid in cli("subscriptions", "list")
    cli("subscriptions", "remove", sid)
    assert sid not in cli("subscriptions", "list")
    cli("subscriptions", "pause", sid, code=3)


@pytest.mark.parametrize("args,code,msg", [
    (("--demand", "D-NOPE"), 3, "不存在"),
    (("--text", "电池", "--channel", "webhook", "--url", "http://10.0.0.1/h"), 2, "内网"),
    (("--text", "电池", "--channel", "email", "--to", "not-an-address"), 2, "邮箱"),
    (("--text", "电池", "--top-n", "0"), 2, "top_n"),
    (("--text", "电池", "--demand", "D-B-PUB"), 2, "demand_id"),
])
def test_bad_subscriptions_fail_clearly(home: Path, args, code, msg) -> None:
    out = cli("subscriptions", "add", *args, code=code)
    assert msg in out


def test_feedback_import_counts_add_up_and_garbage_is_rejected(home: Path) -> None:
    sheet = home / "fb.csv"
    sheet.write_text(
        "需求编号,专利号,状态,原因,成交方式,金额（万元）,成交日期\n"
        "D-B-PUB,P-BAT-1,已联系,,,,\n"
        "D-B-PUB,P-BAT-1,已联系,,,,\n"            # same again: unchanged
        "D-B-PUB,P-BAT-1,deal,,许可,50,2026-11-30\n"
        "D-B-PUB,P-BAT-1,viewed,,,,\n"            # backwards from a final state: 409
        "D-NOPE,P-BAT-1,viewed,,,,\n"             # unknown demand
        "D-B-PUB,P-NOPE,viewed,,,,\n"             # unknown patent
        "D-B-PUB,P-BAT-2,rejected,太贵,,,\n"      # reason outside the list
        "D-B-PUB,P-BAT-2,成交,,,,\n"              # no such status
        ",,,,,,\n"                                # empty row
        "D-B-PUB,P-BAT-2,deal,,转让,lots,\n",     # amount not a number
        encoding="utf-8")
    out = cli("feedback", "import", str(sheet))
    assert "read 10 = recorded 2 + unchanged 1 + rejected 7" in out, out
    rejects = next((home / "rejects").glob("feedback-fb-*-rejects.csv")).read_text("utf-8")
    assert rejects.count("\n") == 8 and "终态" in rejects and "D-NOPE" in rejects
    store = open_push_store(get_settings())
    assert store.feedback_states("D-B-PUB")[0]["state"] == "deal"


@pytest.mark.parametrize("name,body,msg", [
    ("fb.csv", "id,foo\n1,2\n", "patent_id"),
    ("fb.pdf", "x", ".csv"),
    ("fb.xlsx", "not a spreadsheet", "无法读取"),
])
def test_feedback_import_bad_files(home: Path, name, body, msg) -> None:
    f = home / name
    f.write_text(body, encoding="utf-8")
    assert msg in cli("feedback", "import", str(f), code=2)
