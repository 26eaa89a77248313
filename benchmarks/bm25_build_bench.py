"""BM25 index build: bm25s' ``build_index_from_ids`` vs patmatch's vectorised
``indexing.index.sparse.field_matrix``, which must give the same matrix bit for bit.

The corpus is synthetic token ids with the shape of the 20k demo build: Zipf-distributed
terms over a 100k vocabulary, one field per row of ``FIELDS`` (mean tokens per document
as measured on the demo patents). Build cost depends only on ids and lengths, so this
needs no data and runs anywhere.

    .venv/bin/python -m benchmarks.bm25_build_bench [--docs 20000] [--out benchmarks/results/bm25_build.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

FIELDS = {"title": 9, "abstract": 95, "claims": 420, "labels": 30}
VOCAB = 100_000


def corpus(n_docs: int, mean_len: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lens = rng.poisson(mean_len, n_docs)
    return [(rng.zipf(1.15, n) % VOCAB).astype(np.int64) for n in lens]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import bm25s
    import scipy.sparse as sp

    from indexing.index.sparse import SparseConfig, field_matrix

    cfg = SparseConfig()
    res: dict[str, object] = {"docs": args.docs, "vocab": VOCAB, "fields": {}}
    tot_ref = tot_new = 0.0
    for i, (field, mean_len) in enumerate(FIELDS.items()):
        docs = corpus(args.docs, mean_len, i)
        as_lists = [d.tolist() for d in docs]  # bm25s takes Python lists
        t0 = time.perf_counter()
        ref = bm25s.BM25(method=cfg.method, k1=cfg.k1, b=cfg.b).build_index_from_ids(
            unique_token_ids=list(range(VOCAB)), corpus_token_ids=as_lists, show_progress=False)
        t_ref = time.perf_counter() - t0
        want = sp.csc_matrix((ref["data"], ref["indices"], ref["indptr"]),
                             shape=(args.docs, VOCAB), dtype=np.float32)
        t0 = time.perf_counter()
        rows = np.repeat(np.arange(args.docs), [len(d) for d in docs])
        got = field_matrix(rows, np.concatenate(docs), args.docs, VOCAB, cfg)
        t_new = time.perf_counter() - t0
        want.sort_indices()
        got.sort_indices()
        identical = bool(np.array_equal(want.indptr, got.indptr)
                         and np.array_equal(want.indices, got.indices)
                         and np.array_equal(want.data, got.data))
        res["fields"][field] = {"tokens": int(sum(map(len, docs))), "bm25s_s": round(t_ref, 3),
                                "patmatch_s": round(t_new, 3), "identical": identical}
        tot_ref, tot_new = tot_ref + t_ref, tot_new + t_new
    res["bm25s_s"], res["patmatch_s"] = round(tot_ref, 2), round(tot_new, 2)
    res["speedup"] = round(tot_ref / tot_new, 1)
    text = json.dumps(res, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        from patmatch.atomic_io import atomic_write_text

        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
