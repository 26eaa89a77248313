"""Tiny end-to-end runs of `patmatch eval`, `patmatch bench` and `patmatch demo` so none
of them can rot. Real pipeline, tiny encoder, a few hundred generated records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app


@pytest.fixture()
def encoder_dir(tmp_path: Path) -> Path:
    from indexing.training.tiny_encoder import make_tiny_encoder

    path = tmp_path / "tiny-encoder"
    make_tiny_encoder(path, ["电池", "光伏", "机器人", "材料", "隔膜", "涂层", "传感器"], dim=16)
    return path


def _run(args: list[str]) -> str:
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_eval_on_files(home: Path, tmp_path: Path, encoder_dir: Path) -> None:
    from tests.benchmarks.conftest import DOCS, QRELS, DEMANDS

    from benchmarks.tasks import write_qrels, write_queries

    corpus = tmp_path / "patents.csv"
    corpus.write_text("id,title,abstract\n" + "".join(f"{i},{t},{a}\n" for i, (t, a) in DOCS.items()),
                      encoding="utf-8")
    queries = write_queries({d: f"{t}。{x}" for d, (_, t, x) in DEMANDS.items()}, tmp_path / "q.tsv")
    qrels = write_qrels(QRELS, tmp_path / "qrels.tsv")
    out = _run(["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels),
                "--encoder", str(encoder_dir), "--out", str(tmp_path / "res")])
    assert "| bm25 | all | 4 |" in out and "| ranker:default | all | 4 |" in out
    data = json.loads(next((tmp_path / "res").glob("*-eval.json")).read_text(encoding="utf-8"))
    systems = {r["system"] for r in data["results"][0]["rows"]}
    assert {"bm25", "dense", "rrf", "linear:minmax", "ranker:lexical"} <= systems
    bm25 = next(r for r in data["results"][0]["rows"] if r["system"] == "bm25")
    assert bm25["mrr@10"] >= 0.75  # each demand shares words with its patent


def test_eval_rejects_partial_custom_files(home: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["eval", "--corpus", str(tmp_path / "x.csv"), "--encoder", "none"])
    assert res.exit_code == 2 and "--corpus, --queries and --qrels go together" in res.output


def test_demo_then_eval_demo_task(home: Path, tmp_path: Path, encoder_dir: Path) -> None:
    out = _run(["demo", "--patents", "150", "--demands", "20", "--show", "2", "--top", "2",
                "--encoder", str(encoder_dir)])
    for step in ("[1] encoder", "[3] ingest", "[5] build", "[6] publish", "[7] match",
                 "[8] centres", "[9] push", "[10] report"):
        assert step in out
    # the centres were served over the API: their requests are in the audit log, and the
    # report counts them (views and centres served)
    report = json.loads(next((home / "reports").glob("report-*.json")).read_text("utf-8"))
    assert report["usage"]["requests"] > 0 and report["usage"]["centres_served"]
    assert report["usage"]["views"] == sum(report["usage"]["views_by_action"].values()) > 0
    assert "[met ] data_security" in out
    # subscriptions of the demo centres: delivered items are the report's pushes
    assert report["push"]["delivered"]["pushes"] > 0 and "funnel: 推送" in out
    assert out.count("━━ demand") == 2 and "理由:" in out and "patmatch serve" in out
    batch = next((home / "demo" / "outputs").glob("matches-*"))
    assert batch.stat().st_size > 0
    data_dir = next((home / "demo").glob("data-*"))
    out = _run(["eval", "--task", "demo", "--demo-dir", str(data_dir), "--encoder", "none",
                "--ablations", "--out", str(tmp_path / "res")])
    assert "| bm25 | all | 20 |" in out and "bm25[chars]" in out


def test_bench_quick(home: Path, tmp_path: Path, encoder_dir: Path) -> None:
    from benchmarks.bench import BenchConfig, run_bench
    from patmatch.settings import get_settings

    cfg = BenchConfig(patents=200, demands=30, quick=True, encoder=str(encoder_dir), http=False,
                      latency_queries=5)
    js, md = run_bench(cfg, out_dir=tmp_path / "res", settings=get_settings(), log=lambda m: None,
                       stem="tiny")
    res = json.loads(js.read_text(encoding="utf-8"))
    main = res["main"]
    assert main["patents"] == 200 and main["build_s"] > 0
    assert set(main["build_stages_s"]) >= {"tokenize", "encode", "bm25", "faiss"}
    assert main["latency_demand"]["p50_ms"] > 0 and main["batch_all_vs_all"]["queries"] > 0
    assert set(res["peers"]) == {"naive", "bm25s", "rank_bm25", "ratios"}
    assert res["gemm"]["all_vs_all_floor_s"] > 0
    text = md.read_text(encoding="utf-8")
    assert "## Peers, same data, same run" in text and "## Scaling" in text
    assert not (home / "bench" / "n200").exists()  # the scratch home is removed


def test_configs_round_trip_and_reject_unknown_keys() -> None:
    from benchmarks.bench import BenchConfig
    from benchmarks.demo import DemoConfig
    from patmatch.errors import ConfigError

    for cls in (BenchConfig, DemoConfig):
        cfg = cls()
        assert cls.from_dict(cfg.to_dict()) == cfg
        with pytest.raises(ConfigError, match="unknown"):
            cls.from_dict({"bogus": 1})
    quick = BenchConfig(quick=True).effective()
    assert quick.patents == 2_000 and quick.scaling_sizes == ()
    assert BenchConfig().scaling_sizes == (100_000,)
    assert BenchConfig(large=True).scaling_sizes == (100_000, 1_000_000)
    assert BenchConfig(scaling=False).scaling_sizes == ()
