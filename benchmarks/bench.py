"""``patmatch bench``: speed of every stage, peers side by side, scaling and the floor.

One run, one machine, one generated data set (``indexing.training.demo_data.generate``):
ingest rows/s; tokenizer and encoder docs/s; the full build stage by stage (BM25 and
FAISS build included) with peak memory; in-process match latency p50/p95/p99; HTTP
latency through ``benchmarks/load_api.py`` when present; batch all-vs-all throughput;
the peers of ``benchmarks/peers.py`` with our time as a ratio to each; the scaling curve;
the dense all-vs-all floor 2·Q·N·d FLOPs at the GEMM rate measured here. Writes
``benchmarks/results/<date>-<host>.{json,md}``. Everything runs in a scratch data home
under ``<home>/bench/`` that is removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.config import checked_fields

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    patents: int = 20_000
    demands: int = 5_000
    large: bool = False
    quick: bool = False
    encoder: str = "default"
    http: bool = True
    peers: bool = True
    seed: int = 7
    latency_queries: int = 300
    top_k: int = 20
    scaling: bool = True  # the extra sizes of the scaling curve (100k; 1M with large)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchConfig:
        return cls(**checked_fields(cls, data, "bench config keys"))

    def effective(self) -> BenchConfig:
        """``--quick``: small sizes and few repeats, for smoke runs and tests."""
        if not self.quick:
            return self
        return BenchConfig(**{**self.to_dict(), "patents": min(self.patents, 2_000),
                              "demands": min(self.demands, 300),
                              "latency_queries": min(self.latency_queries, 50)})

    @property
    def scaling_sizes(self) -> tuple[int, ...]:
        if self.quick or not self.scaling:
            return ()
        extra = {100_000} | ({1_000_000} if self.large else set())
        return tuple(sorted(n for n in extra if n != self.patents))


def _pct(lat: list[float]) -> dict[str, float | None]:
    from benchmarks.peers import percentiles

    return percentiles(lat)


def gemm_rate(d: int, n: int = 20_000, q: int = 1024, repeats: int = 3) -> float:
    """Measured float32 GEMM FLOP/s for a (q x d) @ (d x n) product, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((q, d), dtype=np.float32)
    b = rng.standard_normal((n, d), dtype=np.float32)
    a @ b[:64].T  # warm-up (thread pool, page faults)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b.T
        best = min(best, time.perf_counter() - t0)
    return 2.0 * q * n * d / best


class _Timer:
    def __init__(self, log: Log) -> None:
        self.log = log

    def __call__(self, what: str, fn: Callable[[], Any]) -> tuple[Any, float]:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        self.log(f"  {what}: {dt:.2f}s")
        return out, dt


def _scratch_settings(base: Any, name: str, encoder: str) -> Any:
    from patmatch.settings import Settings

    home = Path(base.home) / "bench" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # the encoder model is shared: building the default one again would dominate the run
    models = Path(base.models_dir)
    if models.is_dir():
        (home / "models").symlink_to(models.resolve(), target_is_directory=True)
    return Settings(home=home, encoder=encoder, shared_data=base.shared_data)


def run_size(n_patents: int, n_demands: int, cfg: BenchConfig, base: Any, encoder: Any,
             tokenizer: Any, log: Log, *, full: bool) -> dict[str, Any]:
    """Generate, ingest, build, publish, match and batch at one size."""
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build
    from indexing.index.bundle import IndexBundle, current_bundle_path
    from indexing.training.demo_data import generate
    from indexing.intake.ingest import ingest_files
    from indexing.build.publish import publish
    from indexing.store.record_store import open_store
    from matcher.batch import run_batch
    from matcher.queries import queries_from_side
    from matcher.ranker import HybridRanker

    timed = _Timer(log)
    s = _scratch_settings(base, f"n{n_patents}", cfg.encoder)
    r: dict[str, Any] = {"patents": n_patents, "demands": n_demands}
    try:
        files, dt = timed("generate", lambda: generate(s.home / "data", n_patents, n_demands, seed=cfg.seed))
        r["generate_rows_per_s"] = (n_patents + n_demands) / dt
        store = open_store(s)
        try:
            rep, dt = timed("ingest patents", lambda: ingest_files("patents", files.patent_files, store,
                                                                   rejects_dir=s.home / "rejects"))
            r["ingest_patents_rows_per_s"] = rep.read / dt
            rep, dt = timed("ingest demands", lambda: ingest_files("demands", files.demand_files, store,
                                                                   rejects_dir=s.home / "rejects"))
            r["ingest_demands_rows_per_s"] = rep.read / dt
            if full:
                by_id = {p.id: p.text for p in store.iter_patents()}
                r.update(_text_speeds(list(by_id.values()), tokenizer, encoder, cfg, log))
                r["_demand_texts"] = [d.query_text for d in store.iter_demands()]
            # encoder=None: build() resolves it (cached in-process) and records its config
            # in the manifest, which the API's runtime_for() reads back
            # keep_invalid: all N patents are indexed so every size is exact; matching
            # still filters to legally valid patents (Filters.valid_only) at query time
            bid, dt = timed("build", lambda: build(store, s, BuildConfig(encoder=cfg.encoder,
                                                                         keep_invalid=True),
                                                   tokenizer=tokenizer))
        finally:
            store.close()
        r["build_s"] = dt
        _, r["publish_s"] = timed("publish", lambda: publish(s, bid))
        bundle = IndexBundle.load(current_bundle_path(s))
        man = bundle.manifest
        r["build_stages_s"] = dict(man.timings)
        r["build_peak_rss_mb"] = man.peak_rss_mb
        r["bundle_counts"] = {k: man.counts[k] for k in ("patents", "demands") if k in man.counts}
        r["bundle_mb"] = round(sum(f.stat().st_size for f in bundle.path.rglob("*") if f.is_file()) / 2**20, 1)
        ranker = HybridRanker(bundle, tokenizer, encoder)
        r.update(_latency(ranker, bundle, cfg, log))
        if full:  # peers index exactly what the bundle indexes (valid patents only)
            r["_patent_texts"] = [by_id[i] for i in bundle.patents.ids if i in by_id]
        q = queries_from_side(bundle.demands, "demands")
        rep, dt = timed(f"batch {len(q.ids)} demands x {len(bundle.patents)} patents",
                        lambda: run_batch(bundle, tokenizer, encoder, q, out=s.home / "batch-d.parquet",
                                          top_k=cfg.top_k, progress=False))
        r["batch_demands"] = {"queries": len(q.ids), "targets": len(bundle.patents), "seconds": dt,
                              "queries_per_s": len(q.ids) / dt}
        if full:
            pq = queries_from_side(bundle.patents, "patents")
            rep, dt = timed(f"batch all-vs-all {len(pq.ids)} x {len(bundle.patents)}",
                            lambda: run_batch(bundle, tokenizer, encoder, pq, out=s.home / "batch-p.parquet",
                                              top_k=cfg.top_k, progress=False))
            r["batch_all_vs_all"] = {"queries": len(pq.ids), "targets": len(bundle.patents),
                                     "seconds": dt, "queries_per_s": len(pq.ids) / dt}
        r["_settings"] = s
        return r
    except BaseException:
        shutil.rmtree(s.home, ignore_errors=True)
        raise


def _text_speeds(texts: list[str], tokenizer: Any, encoder: Any, cfg: BenchConfig, log: Log) -> dict[str, Any]:
    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

    timed = _Timer(log)
    out: dict[str, Any] = {}
    _, dt = timed(f"tokenize {len(texts)} ({tokenizer.config.backend})", lambda: tokenizer.tokenize_many(texts))
    out["tokenizer_docs_per_s"] = len(texts) / dt
    sample = texts[: min(len(texts), 1000)]
    pure = ChineseTokenizer(TokenizerConfig(backend="jieba"))
    pure.tokenize(sample[0])  # dictionary load is a one-off, not throughput
    _, dt = timed(f"tokenize {len(sample)} (jieba)", lambda: pure.tokenize_many(sample))
    out["tokenizer_jieba_docs_per_s"] = len(sample) / dt
    sample = texts[: min(len(texts), 2000 if cfg.quick else 5000)]
    encoder.encode_documents(sample[:8])
    _, dt = timed(f"encode {len(sample)}", lambda: encoder.encode_documents(sample))
    out["encoder_docs_per_s"] = len(sample) / dt
    return out


def _latency(ranker: Any, bundle: Any, cfg: BenchConfig, log: Log) -> dict[str, Any]:
    ids = bundle.demands.ids[: cfg.latency_queries]
    docs = [bundle.demands.doc(bundle.demands.row_of(i)) for i in ids]
    texts = [f"{d.get('title') or ''}。{d.get('text') or ''}" for d in docs]
    if ids:
        ranker.match_demand(ids[0])  # warm-up: lazy loads, caches
    by_id, by_text, bare = [], [], []
    for i, t in zip(ids, texts):
        t0 = time.perf_counter()
        ranker.match_demand(i, limit=10)
        by_id.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ranker.match_text(t, limit=10, explain=False, semantic_reason=False)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ranker.match_text(t, limit=10)
        by_text.append(time.perf_counter() - t0)
    out = {"latency_demand": _pct(by_id), "latency_text": _pct(by_text),
           "latency_text_unexplained": _pct(bare), "latency_queries": len(ids)}
    log(f"  latency (demand id) p50 {out['latency_demand']['p50_ms']:.1f} ms, "
        f"p99 {out['latency_demand']['p99_ms']:.1f} ms over {len(ids)} demands")
    return out


def _http(bundle_settings: Any, cfg: BenchConfig, log: Log) -> dict[str, Any]:
    """HTTP latency through the API helper's load script (it spawns uvicorn over the
    scratch home, loopback only, a bounded number of requests)."""
    root = Path(__file__).resolve().parent
    if not (root / "load_api.py").exists():
        return {"skipped": "benchmarks/load_api.py not present"}
    import os
    import subprocess
    import sys

    out_json = Path(bundle_settings.home) / "load_api.json"
    cmd = [sys.executable, "-m", "benchmarks.load_api", "--home", str(bundle_settings.home),
           "--workers", "2", "--requests", "50" if cfg.quick else "400",
           "--levels", "1,10" if cfg.quick else "1,10,50", "--out", str(out_json)]
    log("  http: " + " ".join(cmd[1:]))
    env = {**os.environ, "PATMATCH_HOME": str(bundle_settings.home),
           "PATMATCH_ENCODER": str(bundle_settings.encoder)}
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200,
                              cwd=root.parent)
    except subprocess.TimeoutExpired:
        return {"error": "load_api.py did not finish within 20 minutes"}
    if proc.returncode != 0:
        return {"error": f"load_api.py exited {proc.returncode}: {proc.stderr.strip()[-600:]}"}
    if out_json.exists():
        return json.loads(out_json.read_text(encoding="utf-8"))
    return {"stdout": proc.stdout.strip()[-2000:]}


def run_bench(cfg: BenchConfig, *, out_dir: Path, settings: Any, log: Log = print,
              stem: str | None = None) -> tuple[Path, Path]:
    """Run everything; write ``<date>-<host>.{json,md}`` into ``out_dir``."""
    from benchmarks.peers import bm25s_peer, jieba_tokens, naive_peer, rank_bm25_peer
    from benchmarks.report import machine_info, render_markdown, result_stem
    from patmatch.atomic_io import atomic_write_text
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer

    cfg = cfg.effective()
    t_start = time.perf_counter()
    res: dict[str, Any] = {"config": cfg.to_dict(), "machine": machine_info()}
    log(f"bench: {cfg.patents} patents, {cfg.demands} demands, encoder {cfg.encoder}")
    t0 = time.perf_counter()
    encoder = load_encoder(EncoderConfig(name=cfg.encoder), settings)
    res["encoder"] = {"name": cfg.encoder, "dimension": encoder.dimension,
                      "fingerprint": encoder.fingerprint, "load_s": time.perf_counter() - t0}
    tokenizer = ChineseTokenizer()
    tokenizer.tokenize("预热")
    main = run_size(cfg.patents, cfg.demands, cfg, settings, encoder, tokenizer, log, full=True)
    scratch = main.pop("_settings")
    try:
        doc_texts, query_texts = main.pop("_patent_texts"), main.pop("_demand_texts")
        res["main"] = main
        d = encoder.dimension
        rate = gemm_rate(d, n=min(cfg.patents, 20_000))
        res["gemm"] = {"flops_per_s": rate, "dimension": d}
        ava = main.get("batch_all_vs_all", {})
        if ava:
            floor = 2.0 * ava["queries"] * ava["targets"] * d / rate
            res["gemm"]["all_vs_all_floor_s"] = floor
            res["gemm"]["ours_over_floor"] = ava["seconds"] / floor
        if cfg.http:
            res["http"] = _http(scratch, cfg, log)
        if cfg.peers:
            log("peers")
            res["peers"] = _peers(doc_texts, query_texts, encoder, cfg, main, log,
                                  naive_peer, bm25s_peer, rank_bm25_peer, jieba_tokens)
    finally:
        shutil.rmtree(scratch.home, ignore_errors=True)
    curve = [{k: main[k] for k in ("patents", "build_s", "build_peak_rss_mb", "bundle_mb")}
             | {"p50_ms": main["latency_demand"]["p50_ms"], "batch_queries_per_s": main["batch_demands"]["queries_per_s"]}]
    for n in cfg.scaling_sizes:
        log(f"scaling: {n} patents")
        r = run_size(n, cfg.demands, cfg, settings, encoder, tokenizer, log, full=False)
        shutil.rmtree(r.pop("_settings").home, ignore_errors=True)
        curve.append({"patents": n, "build_s": r["build_s"], "build_peak_rss_mb": r["build_peak_rss_mb"],
                      "bundle_mb": r["bundle_mb"], "p50_ms": r["latency_demand"]["p50_ms"],
                      "batch_queries_per_s": r["batch_demands"]["queries_per_s"]})
    res["scaling"] = curve
    import resource

    res["process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["total_s"] = time.perf_counter() - t_start
    stem = stem or result_stem("bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    atomic_write_text(js, json.dumps(res, ensure_ascii=False, indent=1, default=str))
    atomic_write_text(md, render_markdown(res))
    return js, md


def _peers(doc_texts: list[str], query_texts: list[str], encoder: Any, cfg: BenchConfig,
           main: dict[str, Any], log: Log, naive_peer: Any, bm25s_peer: Any, rank_bm25_peer: Any,
           jieba_tokens: Any) -> dict[str, Any]:
    timed = _Timer(log)
    naive, _ = timed("naive script (build + one query at a time)",
                     lambda: naive_peer(doc_texts, query_texts, encoder, top_k=cfg.top_k,
                                        max_queries=cfg.latency_queries))
    dtok, qtok = jieba_tokens(doc_texts), jieba_tokens(query_texts)
    b25, _ = timed("bm25s alone", lambda: bm25s_peer(dtok, qtok, top_k=cfg.top_k))
    rb, _ = timed("rank_bm25 (subsample)", lambda: rank_bm25_peer(dtok, qtok))
    ours_batch = main["batch_demands"]["seconds"]
    ours_build = main["build_s"]
    ours_p50 = main["latency_text"]["p50_ms"]
    bare_p50 = main["latency_text_unexplained"]["p50_ms"]
    ratios = {
        "build: naive / ours": naive["build_s"] / ours_build,
        "one query p50: naive / ours (match_text, explained)": (naive["p50_ms"] or 0) / ours_p50 if ours_p50 else None,
        "one query p50: naive / ours (match_text, no explanation)": (naive["p50_ms"] or 0) / bare_p50 if bare_p50 else None,
        "all demands: naive one-at-a-time / ours batch": (naive["all_queries_s"] or 0) / ours_batch,
        "all demands: bm25s alone (lexical only) / ours batch (hybrid)": b25["all_queries_s"] / ours_batch,
    }
    if "all_queries_s" in rb:
        ratios["all demands: rank_bm25 (extrapolated) / ours batch"] = rb["all_queries_s"] / ours_batch
    return {"naive": naive, "bm25s": b25, "rank_bm25": rb, "ratios": ratios}


if __name__ == "__main__":  # python -m benchmarks.bench RESULT.json  (re-render the markdown)
    import sys

    from benchmarks.report import render_markdown

    src = Path(sys.argv[1])
    (src.with_suffix(".md")).write_text(render_markdown(json.loads(src.read_text("utf-8"))), "utf-8")
