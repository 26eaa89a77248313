"""``patmatch demo``: the whole pipeline on generated data, offline, in one command.

encoder -> demo data -> ingest (with the rejects report) -> label -> build -> publish
(quality gate on the generated judgements) -> batch match every demand -> print the top
matches with their reasons for a few demands -> where the outputs are, how to serve.

Every step calls the public function of its module (docs/architecture.md); a step whose
module is not installed stops with a message naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patmatch.errors import DependencyError
from patmatch.config import checked_fields


@dataclass(frozen=True)
class DemoConfig:
    patents: int = 2_000
    demands: int = 300
    show: int = 3
    top: int = 3
    seed: int = 7
    encoder: str = "default"
    limit: int = 20  # matches kept per demand in the batch output

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DemoConfig:
        return cls(**checked_fields(cls, data, "demo config keys"))


def _need(module: str, issue: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(f"the demo needs {module} ({issue}), which is not importable: {exc}") from None


class _Steps:
    """Prints one line per step with its wall time; keeps the times for the summary."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.times: dict[str, float] = {}
        self.n = 0

    def run(self, name: str, fn: Callable[[], Any], done: Callable[[Any], str]) -> Any:
        self.n += 1
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        self.times[name] = round(dt, 2)
        self.echo(f"[{self.n}] {name:<8} {dt:6.1f}s  {done(out)}")
        return out


def bundle_evaluator(qrels: Mapping[str, Mapping[str, int]], tokenizer: Any, encoder: Any,
                     *, limit: int = 100) -> Callable[[Path], dict[str, float]]:
    """``evaluator(bundle_path) -> {"ndcg@10": ...}`` for the publish gate: each judged
    demand of the bundle ranked with the default fusion."""
    from matcher.relevance import mean_metrics
    from indexing.index.bundle import IndexBundle
    from indexing.index.filters import Filters
    from matcher.ranker import HybridRanker

    def evaluate(path: Path) -> dict[str, float]:
        ranker = HybridRanker(IndexBundle.load(path), tokenizer, encoder)
        runs = {}
        for qid in qrels:
            if ranker.bundle.demands.row_of(qid) is None:
                continue
            ml = ranker.match_demand(qid, filters=Filters(valid_only=False), limit=limit,
                                     explain=False, semantic_reason=False)
            runs[qid] = [m.record_id for m in ml.items]
        judged = {q: qrels[q] for q in runs}
        return mean_metrics(runs, judged)

    return evaluate


def run_demo(cfg: DemoConfig, settings: Any, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo end to end; returns a summary (paths, counts, times, quality)."""
    from benchmarks.tasks import write_qrels
    from matcher.relevance import read_qrels

    steps = _Steps(echo)
    home = Path(settings.home)
    echo(f"patmatch demo: {cfg.patents} patents, {cfg.demands} demands, seed {cfg.seed}, "
         f"data home {home}")

    enc_mod = _need("indexing.encoders.encoder", "issue 8")
    text_mod = _need("indexing.text.tokenizer", "issue 8")
    tokenizer = text_mod.ChineseTokenizer()
    encoder = steps.run("encoder", lambda: enc_mod.load_encoder(
        enc_mod.EncoderConfig(name=cfg.encoder), settings),
        lambda e: f"{cfg.encoder}: {e.dimension}-d, fingerprint {str(e.fingerprint)[:12]}")

    demo_mod = _need("indexing.training.demo_data", "issue 2")
    data_dir = home / "demo" / f"data-seed{cfg.seed}-{cfg.patents}x{cfg.demands}"
    files = steps.run("data", lambda: demo_mod.generate(data_dir, cfg.patents, cfg.demands, seed=cfg.seed),
                      lambda f: f"{f.n_patents} patents, {f.n_demands} demands, {f.n_qrels} judgements "
                                f"in {f.out_dir}")

    ingest_mod = _need("indexing.intake.ingest", "issue 2")
    store = _need("indexing.store.record_store", "issue 2").open_store(settings)
    try:
        rejects_dir = home / "rejects"

        def ingest() -> tuple[Any, Any]:
            return (ingest_mod.ingest_files("patents", files.patent_files, store, rejects_dir=rejects_dir),
                    ingest_mod.ingest_files("demands", files.demand_files, store, rejects_dir=rejects_dir))

        reports = steps.run("ingest", ingest, lambda r: "; ".join(
            f"{x.kind}: read {x.read}, new {x.accepted}, updated {x.updated}, rejected {x.rejected}, "
            f"duplicates {x.duplicates}" for x in r))
        for rep in reports:
            if rep.rejects_path:
                echo(f"           rejects report: {rep.rejects_path}")

        labeler = _need("labeling_spec", "issue 3").Labeler.load(tokenize=tokenizer.tokenize)

        def label() -> dict[str, int]:
            pats = labeler.label_patents(list(store.iter_patents()))
            dems = labeler.label_demands(list(store.iter_demands()))
            store.save_labels("patents", {x.record_id: x.to_dict() for x in pats}, labeler.version)
            store.save_labels("demands", {x.record_id: x.to_dict() for x in dems}, labeler.version)
            return {"patents": len(pats), "demands": len(dems),
                    "patents_with_chain": sum(1 for x in pats if x.chains)}

        steps.run("label", label, lambda n: f"{n['patents']} patents ({n['patents_with_chain']} with a "
                                            f"chain), {n['demands']} demands; labeler {labeler.version}")

        # the judged set becomes the home's quality-gate set (BuildConfig.judged_path default)
        qrels = read_qrels(files.qrels)
        write_qrels(qrels, home / "judged" / "qrels.tsv")
        build_mod = _need("indexing.build.pipeline", "issue 4")
        build_id = steps.run("build", lambda: build_mod.build(
            store, settings, build_mod.BuildConfig(encoder=cfg.encoder), tokenizer=tokenizer),
            lambda b: f"bundle {b} in {settings.staging_dir}")
    finally:
        store.close()

    publish_mod = _need("indexing.build.publish", "issue 4")
    evaluator = bundle_evaluator(qrels, tokenizer, encoder)
    def publish() -> str:
        from patmatch.errors import QualityGateError

        try:
            return publish_mod.publish(settings, build_id, evaluator=evaluator)
        except QualityGateError as exc:
            # a re-run over a home that already holds other records: the demo still
            # publishes, and says why the gate objected
            echo(f"           quality gate: {exc.message}")
            echo("           publishing anyway (demo). For a clean demo use a fresh PATMATCH_HOME.")
            return publish_mod.publish(settings, build_id, evaluator=evaluator, force=True)

    published = steps.run("publish", publish, lambda b: f"current bundle {b}")
    bundle_mod = _need("indexing.index.bundle", "issue 4")
    bundle_path = bundle_mod.current_bundle_path(settings)
    bundle = bundle_mod.IndexBundle.load(bundle_path)
    quality = (bundle.quality or {})

    ranker = _need("matcher.ranker", "issue 5").HybridRanker(bundle, tokenizer, encoder)
    out_dir = home / "demo" / "outputs"
    batch_file = steps.run("match", lambda: _batch(ranker, bundle, out_dir / f"matches-{published}.csv",
                                                   cfg.limit),
                           lambda p: f"{len(bundle.demands)} demands x {len(bundle.patents)} patents -> {p}")

    _show(ranker, qrels, cfg, echo)
    from benchmarks import demo_service

    echo("")
    served = steps.run("centres", lambda: demo_service.serve_centres(settings),
                       lambda s: f"{len(s)} demo centre keys fetched matches over the API: "
                                 f"{sum(x['pushes'] for x in s.values())} results viewed "
                                 f"({', '.join(x['chain'] for x in s.values())})")
    from benchmarks.push_demo import run_push_demo

    pushes = steps.run("push", lambda: run_push_demo(settings, served, echo=echo),
                       lambda p: f"subscriptions for {len(served)} centres: "
                                 f"{p['first']['sent']} + {p['second']['sent']} items delivered "
                                 f"over two publishes (only new pairs the second time)")
    report, report_paths = steps.run(
        "report", lambda: demo_service.report(settings),
        lambda r: f"{sum(t['met'] for t in r[0]['targets'])}/{len(r[0]['targets'])} "
                  f"platform targets met (demo traffic) -> {r[1][1]}")
    for t in report["targets"]:
        echo(f"           [{'met ' if t['met'] else 'MISS'}] {t['target']:<17} "
             f"{t['actual']!s:>8} / {t['goal']}")
    funnel = report["push"]["funnel"]["overall"]
    echo("           funnel: " + " → ".join(
        f"{zh} {funnel[k]}" for k, zh in (("pushed", "推送"), ("viewed", "查看"),
                                          ("contacted", "联系"), ("negotiating", "洽谈"),
                                          ("deal", "成交"))))
    echo("")
    echo("quality on the generated judgements (demand -> patent, default fusion): "
         + ", ".join(f"{k} {quality[k]:.3f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")
                     if isinstance(quality.get(k), (int, float))))
    echo("outputs:")
    echo(f"  demo data      {files.out_dir}")
    echo(f"  store          {settings.store_path}")
    echo(f"  bundle         {bundle_path}")
    echo(f"  batch matches  {batch_file}")
    echo(f"  report         {report_paths[1]}")
    echo("next:")
    echo("  patmatch serve                      # the HTTP API; OpenAPI docs at http://127.0.0.1:8000/docs")
    echo("  patmatch keys create demo --role analyst  # an API key, then e.g. "
         f"GET /v1/demands/{next(iter(qrels))}/matches")
    echo("  patmatch match --all-demands --chain battery_storage --out matches.xlsx")
    echo(f"  patmatch eval --task demo --demo-dir {files.out_dir}")
    return {"config": cfg.to_dict(), "times": steps.times, "build_id": published,
            "bundle": str(bundle_path), "batch_file": str(batch_file), "quality": quality,
            "data_dir": str(files.out_dir), "centres": served, "pushes": pushes,
            "report": str(report_paths[0])}


def _batch(ranker: Any, bundle: Any, path: Path, limit: int) -> Path:
    """Every demand -> top ``limit`` patents as one CSV (matcher.batch when available)."""
    try:
        from matcher.batch import run_batch
        from matcher.queries import queries_from_side
    except ImportError:
        run_batch = None
    if run_batch is not None:
        report = run_batch(bundle, ranker.tokenizer, ranker.encoder,
                           queries_from_side(bundle.demands, "demands"), out=path,
                           top_k=limit, progress=False)
        return Path(report.out)
    import polars as pl

    from patmatch.atomic_io import PRIVATE, atomic_write_text
    from indexing.index.filters import Filters

    rows = []
    for did in bundle.demands.ids:
        ml = ranker.match_demand(did, filters=Filters(), limit=limit, semantic_reason=False)
        for m in ml.items:
            rows.append({"demand_id": did, "rank": m.rank, "patent_id": m.record_id,
                         "patent_title": m.title, "score": round(m.score, 6),
                         "chains": ";".join(m.chains), "matched_terms": ";".join(m.matched_terms),
                         "reason": m.reason})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, pl.DataFrame(rows).write_csv(), mode=PRIVATE)
    return path


def _show(ranker: Any, qrels: Mapping[str, Mapping[str, int]], cfg: DemoConfig,
          echo: Callable[[str], None]) -> None:
    try:
        from labeling_spec import load_taxonomy

        names = {c.id: c.name_zh for c in load_taxonomy().chains}
    except Exception:  # noqa: BLE001 - display names are a nicety; ids still print
        names = {}
    shown = 0
    for did in qrels:
        side = ranker.bundle.demands
        row = side.row_of(did)
        if row is None:
            continue
        doc = side.doc(row)
        ml = ranker.match_demand(did, limit=cfg.top)
        echo("")
        echo(f"━━ demand {did}: {doc.get('title') or ''}")
        echo(f"   {str(doc.get('text') or '')[:110]}")
        for m in ml.items:
            grade = qrels[did].get(m.record_id, 0)
            mark = {3: "✓ written for it", 2: "✓ relevant", 1: "~ same topic"}.get(grade, "")
            chains = "、".join(names.get(c, c) for c in m.chains[:2])
            echo(f"   {m.rank}. {m.record_id}  {m.title}  score {m.score:.3f}  [{chains}] {mark}")
            if m.reason:
                echo(f"      理由: {m.reason}")
        shown += 1
        if shown >= cfg.show:
            break
