"""Reporting shared by eval and bench: machine info, markdown tables, atomic writes."""

from __future__ import annotations

import json
import os
import platform
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patmatch.atomic_io import atomic_write_text

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class EvalResult:
    task: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)  # system, group, metrics, n

    def overall(self, system: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["system"] == system and r["group"] == "all")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "summary": self.summary, "rows": self.rows}


def result_stem(kind: str) -> str:
    """``<date>-<host>`` for bench, ``<date>-<host>-<kind>`` otherwise."""
    now = datetime.now(UTC)
    base = f"{now:%Y-%m-%d}-{socket.gethostname()}"
    return base if kind == "bench" else f"{base}-{kind}"


def machine_info() -> dict[str, Any]:
    import importlib.metadata as md

    info: dict[str, Any] = {"host": socket.gethostname(), "python": platform.python_version(),
                            "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["cpu_model"] = platform.processor() or _cpu_model()
    except ImportError:
        pass
    libs = {}
    for lib in ("numpy", "torch", "sentence-transformers", "faiss-cpu", "bm25s", "jieba", "rjieba",
                "polars", "rank-bm25", "fastapi"):
        try:
            libs[lib] = md.version(lib)
        except md.PackageNotFoundError:
            pass
    info["libraries"] = libs
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def markdown_table(result: EvalResult, *, groups: bool = True) -> str:
    cols = list(METRICS) + sorted({k for r in result.rows for k in r if k.startswith("precision@")})
    lines = [f"### {result.task}", "", f"{result.summary}", "",
             "| system | group | queries | " + " | ".join(cols) + " |",
             "|---|---|---:|" + "---:|" * len(cols)]
    for r in result.rows:
        if r["group"] != "all" and not groups:
            continue
        vals = " | ".join(f"{r.get(c, float('nan')):.3f}" for c in cols)
        lines.append(f"| {r['system']} | {r['group']} | {int(r['queries'])} | {vals} |")
    return "\n".join(lines) + "\n"


def write_results(results: Sequence[EvalResult], out_dir: Path, *, stem: str | None = None,
                  extra: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``<date>-<host>-eval.{json,md}`` atomically; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    stem = stem or result_stem("eval")
    payload = {"created": now.isoformat(timespec="seconds"), "machine": machine_info(),
               **(extra or {}), "results": [r.to_dict() for r in results]}
    md = [f"# patmatch eval — {now:%Y-%m-%d %H:%M} UTC on {payload['machine']['host']}", ""]
    for k, v in (extra or {}).items():
        md.append(f"- {k}: `{v}`")
    md.append("")
    md += [markdown_table(r) for r in results]
    paths = (out_dir / f"{stem}.json", out_dir / f"{stem}.md")
    atomic_write_text(paths[0], json.dumps(payload, ensure_ascii=False, indent=1))
    atomic_write_text(paths[1], "\n".join(md))
    return paths



HEADLINE_SYSTEMS = ("bm25", "dense", "rrf", "linear:zscore", "ranker:lexical", "ranker:semantic",
                    "ranker:default", "ranker:rrf")


def headline(payload: Mapping[str, Any], systems: Sequence[str] = HEADLINE_SYSTEMS) -> str:
    """The README's quality tables from an eval JSON: one row per task (nDCG@10, or
    precision@10 for class-judged tasks), best value in bold; then the tokenizer ablation."""
    main = [r for r in payload["results"] if "·" not in r["task"]]
    present = [s for s in systems if any(row["system"] == s for r in main for row in r["rows"])]
    lines = ["| task (metric) | " + " | ".join(present) + " |", "|---|" + "---:|" * len(present)]
    for r in main:
        rows = {x["system"]: x for x in r["rows"] if x["group"] == "all"}
        metric = "precision@10" if any("precision@10" in x for x in rows.values()) else "ndcg@10"
        vals = [rows[s][metric] if s in rows else None for s in present]
        best = max(v for v in vals if v is not None)
        cells = ["–" if v is None else (f"**{v:.3f}**" if v == best else f"{v:.3f}") for v in vals]
        lines.append(f"| {r['task']} ({metric}) | " + " | ".join(cells) + " |")
    abl = [r for r in payload["results"] if "tokenizer ablation" in r["task"]]
    if abl:
        names = [x["system"] for x in abl[0]["rows"] if x["group"] == "all"]
        lines += ["", "| task (nDCG@10, BM25 only) | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for r in abl:
            rows = {x["system"]: x for x in r["rows"] if x["group"] == "all"}
            lines.append(f"| {r['task'].split(' ')[0]} | "
                         + " | ".join(f"{rows[n]['ndcg@10']:.3f}" for n in names) + " |")
    enc = [r for r in payload["results"] if "encoder ablation" in r["task"]]
    if enc:
        names = [x["system"] for x in enc[0]["rows"] if x["group"] == "all"]
        lines += ["", "| task (nDCG@10, dense only) | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for r in enc:
            rows = {x["system"]: x for x in r["rows"] if x["group"] == "all"}
            lines.append(f"| {r['task'].split(' ')[0]} | "
                         + " | ".join(f"{rows[n]['ndcg@10']:.3f}" if n in rows else "–" for n in names) + " |")
    return "\n".join(lines) + "\n"


# --- bench markdown ------------------------------------------------------------------
def _number(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def render_markdown(res: dict[str, Any]) -> str:
    m, mach = res["main"], res["machine"]
    L = [f"# patmatch bench — {m['patents']:,} patents x {m['demands']:,} demands",
         "", f"Machine: {mach.get('cpus')} cores ({mach.get('cpu_model', '')}), "
         f"{mach.get('memory_gib')} GiB, Python {mach['python']}, host `{mach['host']}`. "
         f"Encoder `{res['encoder']['name']}` ({res['encoder']['dimension']}-d). "
         f"Total run {res['total_s']:.0f} s. Command: `patmatch bench --patents {m['patents']} "
         f"--demands {m['demands']}{' --quick' if res['config']['quick'] else ''}"
         f"{'' if res['config']['encoder'] == 'default' else ' --encoder ' + str(res['config']['encoder'])}"
         f"{'' if res['config'].get('scaling', True) else ' --no-scaling'}"
         f"{' --large' if res['config']['large'] else ''}`.", "",
         "Libraries: " + ", ".join(f"{k} {v}" for k, v in mach.get("libraries", {}).items()), "",
         "## Throughput", "", "| stage | rate |", "|---|---:|"]
    for key, label in (("generate_rows_per_s", "generate demo rows/s"),
                       ("ingest_patents_rows_per_s", "ingest patents rows/s"),
                       ("ingest_demands_rows_per_s", "ingest demands rows/s"),
                       ("tokenizer_docs_per_s", "tokenizer docs/s (rjieba)"),
                       ("tokenizer_jieba_docs_per_s", "tokenizer docs/s (jieba, 1k sample)"),
                       ("encoder_docs_per_s", "encoder docs/s")):
        L.append(f"| {label} | {_number(m.get(key), 0)} |")
    L += ["", f"## Build ({_number(m['build_s'])} s total, peak RSS {_number(m.get('build_peak_rss_mb'), 0)} MB, "
          f"bundle {_number(m.get('bundle_mb'))} MB, {m.get('bundle_counts')})", "",
          "| stage | seconds |", "|---|---:|"]
    stages = m.get("build_stages_s", {})
    L += [f"| {k} | {v:.2f} |" for k, v in stages.items()]
    L.append(f"| outside the named stages (build() wall - sum) | {m['build_s'] - sum(stages.values()):.2f} |")
    L += ["", "Every generated patent is indexed (`keep_invalid`), so sizes are exact; matching "
          "still filters to legally valid patents at query time (the default filter)."]
    L += ["", f"## In-process latency ({m['latency_queries']} demands, top-10, explained)", "",
          "| query | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|"]
    for key, label in (("latency_demand", "stored demand (match_demand), explained"),
                       ("latency_text", "free text (match_text: tokenize + encode), explained"),
                       ("latency_text_unexplained", "free text, no explanation (ranking only)")):
        p = m[key]
        L.append(f"| {label} | {_number(p['p50_ms'], 2)} | {_number(p['p95_ms'], 2)} | {_number(p['p99_ms'], 2)} |")
    L += ["", "## Batch (top-20, fused, explained)", "", "| job | queries x targets | seconds | queries/s |",
          "|---|---|---:|---:|"]
    for key in ("batch_demands", "batch_all_vs_all"):
        b = m.get(key)
        if b:
            L.append(f"| {key} | {b['queries']:,} x {b['targets']:,} | {b['seconds']:.1f} | {b['queries_per_s']:,.0f} |")
    g = res.get("gemm", {})
    if "all_vs_all_floor_s" in g:
        L += ["", f"Dense all-vs-all floor: 2·Q·N·d FLOPs at the measured GEMM rate "
              f"({g['flops_per_s'] / 1e9:.1f} GFLOP/s, d = {g['dimension']}) = {g['all_vs_all_floor_s']:.2f} s; "
              f"ours is {g['ours_over_floor']:.1f}x the floor (ours also does BM25, fusion and reasons)."]
    h = res.get("http")
    if h and h.get("results"):
        L += ["", f"## HTTP: POST /v1/match through uvicorn ({h.get('workers')} workers, "
              "client on the same 2 cores; benchmarks/load_api.py)", "",
              "| concurrency | requests | errors | p50 ms | p95 ms | p99 ms | req/s |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
        L += [f"| {x['concurrency']} | {x['requests']} | {x['errors']} | {x['p50_ms']:.1f} | "
              f"{x['p95_ms']:.1f} | {x['p99_ms']:.1f} | {x['req_per_s']:.1f} |" for x in h["results"]]
    elif h:
        L += ["", "## HTTP (benchmarks/load_api.py)", "", f"not measured: {h.get('skipped') or h.get('error')}"]
    pe = res.get("peers")
    if pe:
        n, b, rb = pe["naive"], pe["bm25s"], pe["rank_bm25"]
        L += ["", "## Peers, same data, same run", "", "| system | build s | p50 ms / query | all demands s |",
              "|---|---:|---:|---:|",
              f"| patmatch (hybrid, explained) | {_number(m['build_s'])} | {_number(m['latency_text']['p50_ms'], 2)} | {_number(m['batch_demands']['seconds'])} |",
              f"| naive jieba+bm25s+ST+faiss, one query at a time | {_number(n['build_s'])} | {_number(n['p50_ms'], 2)} | "
              f"{_number(n['all_queries_s'])}{' (extrapolated from %d)' % n['measured_queries'] if n['all_queries_extrapolated'] else ''} |",
              f"| bm25s alone (lexical only, batch) | {_number(b['build_s'])} | – | {_number(b['all_queries_s'])} |"]
        if "all_queries_s" in rb:
            L.append(f"| rank_bm25 (lexical only; {rb['sample_documents']} docs x {rb['sample_queries']} queries, "
                     f"extrapolated) | {_number(rb['build_s'])} | {_number(rb['per_query_s'] * 1000, 1)} | {_number(rb['all_queries_s'])} |")
        L += ["", "| ratio (> 1 means patmatch is faster) | value |", "|---|---:|"]
        L += [f"| {k} | {_number(v, 2)} |" for k, v in pe["ratios"].items()]
    L += ["", "## Scaling", "", "| patents | build s | peak RSS MB | bundle MB | p50 ms | batch demands/s |",
          "|---:|---:|---:|---:|---:|---:|"]
    for c in res.get("scaling", []):
        L.append(f"| {c['patents']:,} | {_number(c['build_s'])} | {_number(c['build_peak_rss_mb'], 0)} | "
                 f"{_number(c['bundle_mb'])} | {_number(c['p50_ms'], 2)} | {_number(c['batch_queries_per_s'], 0)} |")
    L += ["", f"Process peak RSS: {res['process_peak_rss_mb']:.0f} MB."]
    return "\n".join(L) + "\n"


if __name__ == "__main__":  # python -m benchmarks.report RESULTS-eval.json
    import sys

    print(headline(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
