"""The cost side of the bigram study (``benchmarks/bigram_study.py``): per lexical
configuration, built as ONE ``SparseIndex`` with prefixed extra fields, the tokenize and
BM25 build time, index size, per-query latency and one batch of all queries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bigram_systems import DEPTH, LEXICAL, SOURCES, field_texts, source_fields, tokenizers
from indexing.text.ngrams import PREFIXES as ngram_prefixes

PREFIXES = {"word": "", **ngram_prefixes}  # the families' column prefixes, as built
# index size and latency depend on the sources, not on their weights
COST_CONFIGS = ("word", "word+1bigram", "word+1bigram1f", "word+1bigram+1char", "word+1bigram_ta+0.5char_ta")


def cost(task: Any, n_queries: int = 500, configs: Sequence[str] = COST_CONFIGS) -> dict[str, Any]:
    """Per configuration, built as ONE SparseIndex with prefixed extra fields (as the build
    would): tokenize and BM25 build seconds, index size, per-query latency (tokenize +
    top-200, one query at a time as ``match_text``) and one batch of all queries."""
    import tempfile

    from indexing.index.sparse import SparseIndex
    from matcher.kernels import LexicalScorer, lexical_topk

    texts, toks = field_texts(task.corpus), tokenizers()
    prefix = {s: PREFIXES[t.replace("_nocut", "")] for s, (t, _) in SOURCES.items()}
    qtexts = [task.queries[q] for q in sorted(task.queries)[:n_queries]]
    res: dict[str, Any] = {"documents": len(task.corpus), "queries": len(qtexts), "tokenize_s": {},
                           "configs": {}}
    built: dict[str, tuple[dict[str, list[list[str]]], dict[str, float]]] = {}
    for src in sorted({s for c in configs for s in LEXICAL[c]}):
        t0 = time.perf_counter()
        fields, fw = source_fields(src, texts, toks, prefix=src + ":")
        res["tokenize_s"][src] = round(time.perf_counter() - t0, 2)
        p = prefix[src]  # prefixed terms: the sources' vocabularies stay disjoint
        built[src] = ({f: [[p + t for t in d] for d in v] for f, v in fields.items()} if p else fields, fw)

    def query_tokens(config: str, q: str) -> list[str]:
        return [prefix[s] + t for s in LEXICAL[config] for t in toks[SOURCES[s][0]].tokenize(q)]

    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            fields, weights = {}, {}
            for src, w in LEXICAL[config].items():
                fields.update(built[src][0])
                weights.update({f: w * fw for f, fw in built[src][1].items()})
            t0 = time.perf_counter()
            idx = SparseIndex.build(fields, weights)
            r: dict[str, Any] = {"bm25_build_s": round(time.perf_counter() - t0, 2)}
            r["index_mb"] = round(sum(p.stat().st_size for p in idx.save(Path(tmp) / config)) / 2**20, 1)
            r["vocab"], r["nnz"] = len(idx.vocab), int(idx.matrix.nnz)
            lat = []
            for q in qtexts:
                t1 = time.perf_counter()
                idx.search(query_tokens(config, q), DEPTH)
                lat.append(1000 * (time.perf_counter() - t1))
            r["query_ms_p50"], r["query_ms_p95"] = (round(float(np.percentile(lat, p)), 2) for p in (50, 95))
            qm = idx.query_matrix([query_tokens(config, q) for q in qtexts])
            t0 = time.perf_counter()
            lexical_topk(qm, LexicalScorer(idx.matrix), DEPTH, None)
            r["batch_s"] = round(time.perf_counter() - t0, 2)
            res["configs"][config] = r
            print(f"cost {task.name} {config}: {r}", flush=True)
    return res


def cost_table(name: str, c: dict[str, Any]) -> list[str]:
    tok = ", ".join(f"{k} {v}" for k, v in c["tokenize_s"].items())
    lines = [f"### {name}: {c['documents']:,} documents, {c['queries']} queries", "",
             f"Tokenize seconds per source (title, abstract, claims[:1500]): {tok}", "",
             "| configuration (one SparseIndex) | BM25 build s | index MB | vocab | nnz | "
             f"query p50 / p95 ms | batch of {c['queries']} s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for cfg, r in c["configs"].items():
        lines.append(f"| {cfg} | {r['bm25_build_s']} | {r['index_mb']} | {r['vocab']:,} | {r['nnz']:,} | "
                     f"{r['query_ms_p50']} / {r['query_ms_p95']} | {r['batch_s']} |")
    return lines + [""]
