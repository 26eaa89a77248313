"""Private memory of two processes serving one bundle, memory-mapped vs read into memory.

Each worker loads the bundle as the API does (``IndexBundle.load`` + ``HybridRanker``),
answers ``--queries`` stored demands (explained), then reports its ``smaps_rollup``
(USS = Private_Clean + Private_Dirty, PSS). ``--no-mmap`` reads every array into private
memory, as bundles were served before (flat FAISS index rebuilt, BM25 ``load_npz``).

    nice -n 10 python -m benchmarks.serve_memory BUNDLE_DIR [--no-mmap]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
from pathlib import Path
from typing import Any


def _rollup() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        k, v = line.split(":", 1)
        out[k.strip()] = int(v.split()[0])  # kB
    return out


def _worker(path: str, mmap: bool, queries: int, barrier: Any, q: Any) -> None:
    from indexing.index import dense, sparse
    from indexing.index.bundle import IndexBundle
    from matcher.ranker import HybridRanker

    if not mmap:
        d_load, s_load = dense.DenseIndex.load.__func__, sparse.SparseIndex.load.__func__
        dense.DenseIndex.load = classmethod(lambda cls, d, c=dense.DenseConfig(), **k: d_load(cls, d, c, mmap=False))  # type: ignore[method-assign]
        sparse.SparseIndex.load = classmethod(lambda cls, d, **k: s_load(cls, d, mmap=False))  # type: ignore[method-assign]
    bundle = IndexBundle.load(path, verify=False)
    ranker = HybridRanker.from_bundle(bundle)
    for did in bundle.demands.ids[:queries]:
        ranker.match_demand(did, limit=10)
    for row in range(0 if len(bundle.demands) else queries):  # a bundle without demands
        ranker.match_text(bundle.patents.doc(row * 97 % len(bundle.patents))["title"] or "电池",
                          limit=10)
    barrier.wait()  # both workers loaded: shared pages are now counted half each in PSS
    r = _rollup()
    q.put({"uss_mb": round((r["Private_Clean"] + r["Private_Dirty"]) / 1024, 1),
           "pss_mb": round(r["Pss"] / 1024, 1), "rss_mb": round(r["Rss"] / 1024, 1)})
    barrier.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--no-mmap", action="store_true")
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    barrier, q = ctx.Barrier(2), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(a.bundle, not a.no_mmap, a.queries, barrier, q))
          for _ in range(2)]
    for p in ps:
        p.start()
    rows = [q.get() for _ in ps]
    for p in ps:
        p.join()
    json.dump({"mmap": not a.no_mmap, "workers": rows}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
