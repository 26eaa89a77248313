"""What the issue-20 query-side work costs per query: abbreviation expansion and the
semantic-pair rules, A/B interleaved on one 20k bundle (``patmatch bench``'s demo data).

A = expansion off (``expansion_weight`` 0) and the previous pair rule (cosine > 0.3, nothing
else); B = the shipped defaults. Each query runs A then B back to back, so machine load
(2 shared cores) hits both alike; wall and thread-CPU milliseconds are reported. The batch
cost of expansion is the time of ``lexical_query_matrix`` for the demands with and without
the expander.

    nice -n 10 .venv/bin/python -m benchmarks.explain_cost [--patents 20000] [--demands 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2)}


def measure(n_patents: int, n_demands: int, queries: int = 300, seed: int = 7) -> dict[str, Any]:
    from benchmarks.pair_study import RULES, rule
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.index.bundle import IndexBundle
    from indexing.intake.ingest import read_records
    from indexing.text.tokenizer import ChineseTokenizer
    from indexing.training.demo_data import generate
    from matcher.config import FusionConfig, with_recorded_fusion
    from matcher.expansion import expander_for
    from matcher.kernels import lexical_query_matrix
    from matcher.queries import record_text
    from matcher.ranker import HybridRanker

    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig("default"))
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp) / "data", n_patents, n_demands, seed=seed)
        patents = list({r.id: r for f in files.patent_files for r in read_records("patents", f)[0]}.values())
        demands = list({r.id: r for f in files.demand_files for r in read_records("demands", f)[0]}.values())
        path = build_bundle(patents, demands, out_dir=Path(tmp) / "bundle", tokenizer=tok, encoder=enc,
                            config=with_recorded_fusion(BuildConfig(keep_invalid=True)))
        ranker = HybridRanker(IndexBundle.load(path), tok, enc)
        ranker.prepare()
        side = ranker.bundle.demands
        ids = side.ids[:queries]
        texts = [record_text(side.doc(side.row_of(i)), "demands") for i in ids]
        off = FusionConfig.from_dict({**ranker.config.to_dict(), "expansion_weight": 0.0})
        ranker.match_demand(ids[0])
        ranker.match_text(texts[0])
        res: dict[str, list[float]] = {k: [] for k in ("A demand", "B demand", "A text", "B text",
                                                       "A demand cpu", "B demand cpu")}
        for i, t in zip(ids, texts):
            for label, fusion, values in (("A", off, RULES["previous"]), ("B", None, {})):
                with rule(values):
                    c0, t0 = time.thread_time(), time.perf_counter()
                    ranker.match_demand(i, limit=10, fusion=fusion)
                    res[f"{label} demand"].append(time.perf_counter() - t0)
                    res[f"{label} demand cpu"].append(time.thread_time() - c0)
                    t0 = time.perf_counter()
                    ranker.match_text(t, limit=10, fusion=fusion)
                    res[f"{label} text"].append(time.perf_counter() - t0)
        all_texts = [record_text(side.doc(r), "demands") for r in range(len(side.ids))]
        pside = ranker.bundle.patents
        expander = expander_for(pside, tok, ranker.config)
        batch = {}
        for label, ex in (("A", None), ("B", expander), ("A again", None), ("B again", expander)):
            t0 = time.perf_counter()
            lexical_query_matrix(pside, tok, all_texts, ex)
            batch[label] = round(time.perf_counter() - t0, 3)
        from collections import Counter

        fired: Counter[str] = Counter()
        expanded = 0
        for t in all_texts:
            exps = expander.expansions(t)
            expanded += bool(exps)
            fired.update(f"{e.short}->{e.full} ({e.source})" for e in exps)
    return {"patents": n_patents, "demands": len(all_texts), "queries": len(ids),
            "latency": {k: _pct(v) for k, v in res.items()},
            "batch_query_matrix_s": batch, "demands_expanded": expanded,
            "top_expansions": fired.most_common(25)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patents", type=int, default=20_000)
    ap.add_argument("--demands", type=int, default=2_000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args()
    load0 = os.getloadavg()
    res = measure(a.patents, a.demands)
    res["load_at_start"], res["load_at_end"] = load0, os.getloadavg()
    out = Path(a.out) / "explain_cost.json"
    out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
