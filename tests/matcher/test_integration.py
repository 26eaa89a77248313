"""End to end over a bundle built by indexing.build_bundle: evaluate_bundle (publish
gate), `patmatch match` (CLI), and a real SIGKILL in the middle of a batch job."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.matcher.conftest import TOPICS, make_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> dict[str, Path]:
    from indexing.build.pipeline import build_bundle
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.records import DemandRecord, PatentRecord

    tmp = tmp_path_factory.mktemp("built")
    enc_dir = tmp / "enc"
    vocab = sorted(set(itertools.chain.from_iterable(TOPICS.values())))
    enc = make_tiny_encoder(enc_dir, vocab, dim=32, seed=0)
    p, d = make_records()
    pats = [PatentRecord(id=r["id"], title=r["title"], abstract=r["abstract"], ipc=tuple(r["ipc"]),
                         applicant_type=r["applicant_type"], region=r["region"], legal_status="有效",
                         application_date=r["date"], open_license=r["open_license"]) for r in p]
    dems = [DemandRecord(id=r["id"], text=r["text"], title=r["title"], region=r["region"],
                         chain=r["chains"][0]) for r in d]
    # precomputed labels (the labeler itself is tested in tests/labeling_spec)
    labels = {"patents": {r["id"]: {"chains": r["chains"]} for r in p},
              "demands": {r["id"]: {"chains": r["chains"]} for r in d}}
    bundle = build_bundle(pats, dems, out_dir=tmp / "b1", tokenizer=tokenizer, encoder=enc,
                          labels=labels)
    qrels = tmp / "qrels.tsv"
    qrels.write_text("demand_id\tpatent_id\tgrade\nDbat0\tP000\t3\nDpv0\tP012\t3\nDpv0\tP013\t1\n"
                     "Dnope\tP001\t3\n", encoding="utf-8")
    return {"bundle": bundle, "encoder": enc_dir, "qrels": qrels}


@pytest.fixture()
def env(built: dict[str, Path], home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    from patmatch.settings import get_settings

    monkeypatch.setenv("PATMATCH_ENCODER", str(built["encoder"]))
    get_settings.cache_clear()
    return built


def test_evaluate_bundle_for_the_publish_gate(env: dict[str, Path]) -> None:
    from matcher.evaluate import evaluate_bundle

    m = evaluate_bundle(env["bundle"], env["qrels"])
    assert m["queries"] == 2 and m["missing_queries"] == 1
    assert 0.0 < m["ndcg@10"] <= 1.0 and m["recall@100"] > 0
    assert evaluate_bundle(env["bundle"], env["qrels"]) == m  # deterministic


def test_cli_all_demands_and_file_demands(env: dict[str, Path], tmp_path: Path) -> None:
    from api.cli import app

    runner = CliRunner()
    out = tmp_path / "all.csv"
    r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands", "--out",
                            str(out), "--top-k", "5", "--no-progress"])
    assert r.exit_code == 0, r.output
    df = pl.read_csv(out)
    assert df.height == 12 * 5 and df["demand_id"].n_unique() == 12
    assert "demand_title" in df.columns and "reason" in df.columns
    # character n-grams score but never explain: no §/¶ term reaches the output
    shown = " ".join(df["matched_terms"].fill_null("").to_list() + df["reason"].to_list())
    assert "§" not in shown and "¶" not in shown and df["matched_terms"].fill_null("").str.len_chars().sum() > 0

    src = tmp_path / "in.csv"
    src.write_text("id,title,text,contact_phone\nN1,求光伏支架,渔光互补电站的光伏组件支架安装效率低,13812345678\n"
                   "N2,空,,\nN1,重复,重复的需求文本内容足够长,\n", encoding="utf-8")
    out2 = tmp_path / "file.xlsx"
    r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--demands", str(src),
                            "--out", str(out2), "--top-k", "3", "--chain", "以太阳能光伏为代表的新能源",
                            "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "read 3 = accepted 1 + rejected 1 + duplicates 1" in r.output
    assert (tmp_path / "file.rejects.csv").exists()
    df2 = pl.read_excel(out2)
    assert df2["demand_id"].to_list() == ["N1"] * 3
    assert all("pv" in c for c in df2["chain"].to_list())
    # readers get the chain's Chinese name and Chinese headers for the patent's facts
    assert all("以太阳能光伏为代表的新能源" in c and "pv" not in c for c in df2["产业链"].to_list())
    assert {"价值分级", "成熟等级", "许可方式", "申请人类型", "地区"} <= set(df2.columns)
    assert "applicant_type" not in df2.columns
    assert "13812345678" not in out2.read_bytes().decode("latin-1")

    r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands",
                            "--demands", str(src), "--out", str(out2)])
    assert r.exit_code == 2 and "exactly one" in r.output
    r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands",
                            "--chain", "bogus", "--out", str(out2)])
    assert r.exit_code == 2 and "unknown chain" in r.output
    for bad in (["--min-grade", "Z"], ["--max-required-trl", "3"], ["--max-fee-wan", "x"]):
        r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands",
                                "--out", str(out2), *bad])
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands", "--out",
                            str(out), "--min-grade", "C", "--no-progress"])
    assert r.exit_code == 0, r.output


def test_cli_patent_to_demand(env: dict[str, Path], tmp_path: Path) -> None:
    from api.cli import app

    out = tmp_path / "p2d.parquet"
    r = CliRunner().invoke(app, ["match", "--bundle", str(env["bundle"]), "--all-demands",
                                 "--direction", "patent-to-demand", "--out", str(out), "--top-k", "2",
                                 "--no-progress"])
    assert r.exit_code == 0, r.output
    df = pl.read_parquet(out)
    assert df["patent_id"].n_unique() == 48 and df.height == 96


_CHILD = """
import sys, time
from pathlib import Path
from indexing.index.bundle import IndexBundle
from matcher.batch import run_batch
from matcher.queries import queries_from_side
from matcher.ranker import runtime_for
bundle_path, out, slow = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "slow"
tok, enc = runtime_for(bundle_path)
b = IndexBundle.load(bundle_path)
class Slow:
    def tokenize(self, t):
        time.sleep(0.15 if slow else 0)
        return tok.tokenize(t)
run_batch(b, Slow(), enc, queries_from_side(b.demands, "demands"), out=out, top_k=4,
          block_size=2, progress=False, resume=True)
"""


@pytest.mark.slow  # three fresh interpreters (~40 s each on the shared machine)
def test_sigkill_then_resume_equals_uninterrupted(env: dict[str, Path], tmp_path: Path) -> None:
    from matcher.jobplan import job_dir_for

    envv = {**os.environ, "PYTHONPATH": str(ROOT)}
    ref = tmp_path / "ref.parquet"
    subprocess.run([sys.executable, "-c", _CHILD, str(env["bundle"]), str(ref), "fast"],
                   check=True, env=envv, timeout=120)
    out = tmp_path / "out.parquet"
    state = job_dir_for(out) / "state.json"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(env["bundle"]), str(out), "slow"],
                             env=envv)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if state.exists() and json.loads(state.read_text() or "{}").get("blocks_done", 0) >= 2:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert not out.exists(), "the job finished before it could be killed"
    done = json.loads(state.read_text())["blocks_done"]
    assert 2 <= done < 6
    subprocess.run([sys.executable, "-c", _CHILD, str(env["bundle"]), str(out), "fast"],
                   check=True, env=envv, timeout=120)
    assert out.read_bytes() == ref.read_bytes()
