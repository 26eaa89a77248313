"""The same batch job on the local engine and on a local Ray: time, equality, load.

    .venv/bin/python -m benchmarks.ray_bench --bundle DIR [--demands N] [--cpus 2] [--out NAME]

Every demand of the bundle (or the first N) against its patents, top-20, parquet out.
Ray's start is timed apart from the job. The two outputs must be byte-identical (the
run fails otherwise). Writes benchmarks/results/<out>.json and .md with the machine's
load average before and after, so a number measured on a busy machine says so.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def run(bundle_dir: Path, demands: int | None, cpus: int) -> dict:
    import ray

    from indexing.index.bundle import IndexBundle
    from indexing.index.filters import Filters
    from matcher.batch import run_batch
    from matcher.queries import Queries, queries_from_side
    from matcher.batch_ray import run_batch_ray
    from matcher.ranker import runtime_for

    load0 = os.getloadavg()
    tokenizer, encoder = runtime_for(bundle_dir)
    bundle = IndexBundle.load(bundle_dir, tokenizer_fingerprint=tokenizer.fingerprint,
                              encoder_fingerprint=encoder.fingerprint)
    q = queries_from_side(bundle.demands, "demands", Filters(valid_only=False))
    n = demands or len(q.ids)
    q = Queries(q.ids[:n], q.texts[:n], q.titles[:n], q.chains[:n], None)  # encoded in the job
    res: dict = {"bundle": bundle.build_id, "patents": len(bundle.patents.ids), "demands": n,
                 "top_k": 20, "ray_cpus": cpus}
    with tempfile.TemporaryDirectory() as tmp:
        local, remote = Path(tmp) / "local.parquet", Path(tmp) / "ray.parquet"
        t = time.perf_counter()
        rep = run_batch(bundle, tokenizer, encoder, q, out=local, top_k=20, progress=False)
        res["local_s"] = round(time.perf_counter() - t, 1)
        res["block_size"] = rep.extra["block_size"]
        t = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
        res["ray_start_s"] = round(time.perf_counter() - t, 1)
        try:
            t = time.perf_counter()
            run_batch_ray(bundle, tokenizer, encoder, q, out=remote, top_k=20, progress=False)
            res["ray_s"] = round(time.perf_counter() - t, 1)
        finally:
            ray.shutdown()
        res["identical"] = local.read_bytes() == remote.read_bytes()
    res["local_demands_per_s"] = round(n / res["local_s"], 1)
    res["ray_demands_per_s"] = round(n / res["ray_s"], 1)
    res["loadavg_before"] = [round(x, 1) for x in load0]
    res["loadavg_after"] = [round(x, 1) for x in os.getloadavg()]
    res["cores"] = os.cpu_count()
    if not res["identical"]:
        raise SystemExit(f"the engines' outputs differ: {res}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--demands", type=int, default=None)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--out", default="ray_bench")
    a = ap.parse_args()
    res = run(a.bundle, a.demands, a.cpus)
    outdir = Path(__file__).parent / "results"
    (outdir / f"{a.out}.json").write_text(json.dumps(res, indent=2) + "\n")
    md = [f"# Batch job: local engine vs local Ray ({a.cpus} CPUs)",
          "", f"`.venv/bin/python -m benchmarks.ray_bench --bundle <{res['patents']}-patent bundle>"
          f"{' --demands ' + str(a.demands) if a.demands else ''}`", "",
          "| patents | demands | local (s) | Ray start (s) | Ray job (s) | local / Ray demands/s "
          "| identical | load avg before / after (cores) |", "|---|---|---|---|---|---|---|---|",
          f"| {res['patents']} | {res['demands']} | {res['local_s']} | {res['ray_start_s']} | "
          f"{res['ray_s']} | {res['local_demands_per_s']} / {res['ray_demands_per_s']} | "
          f"{res['identical']} | {res['loadavg_before'][0]} / {res['loadavg_after'][0]} "
          f"({res['cores']}) |", ""]
    (outdir / f"{a.out}.md").write_text("\n".join(md))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
