"""The Ray engine for batch jobs: the local engine's plan, its blocks as Ray tasks.

``run_batch_ray`` takes the same plan as ``matcher.batch.run_batch`` (same fingerprint,
same block bounds, same checkpoint folder), so the output is the local engine's row for
row and a job killed on one engine resumes on the other. What differs is where blocks
run:

- the bundle is read by each Ray worker from its directory, which must be a path every
  node sees (a shared file system); the worker checks the build id and the tokenizer and
  encoder fingerprints against the driver's before ranking anything;
- the queries go once into the object store; a worker keeps one job's ``BlockRanker``
  (bundle, tokenizer, encoder, filter mask) between its tasks, so a job costs one bundle
  load per worker process, not one per block;
- a task returns its block's rows; the driver writes them as the block's parquet part and
  records it in ``state.json`` (blocks finish out of order: ``parts`` lists them), then
  assembles the output from the parts in block order, exactly as the local engine does.

At most ``2 x cluster CPUs`` blocks are in flight, so the driver holds a bounded number
of results. Ray is an optional extra (``pip install 'patmatch[ray]'``).
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexing.index.filters import Filters
from matcher.batch import BatchReport, BlockRanker, assemble_parts, run_batch, target_titles
from matcher.config import FusionConfig
from matcher.jobplan import JobPlan, plan_job
from matcher.queries import Queries
from patmatch.atomic_io import PRIVATE
from patmatch.errors import BundleMismatchError, DependencyError, InputError
from patmatch.table_io import write_table

ENGINES = ("local", "ray")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DependencyError("the Ray engine needs Ray: pip install 'patmatch[ray]' "
                          "(or use the default --engine local)") from None
    return ray


def run_batch_ray(bundle: Any, tokenizer: Any, encoder: Any, queries: Queries, *, out: Path,
                  direction: str = "demand-to-patent", top_k: int = 20,
                  filters: Filters | None = None, fusion: FusionConfig | None = None,
                  resume: bool = False, block_size: int | None = None, progress: bool = True,
                  on_block: Callable[[int, int], None] | None = None,
                  ray_address: str | None = None) -> BatchReport:
    """``run_batch`` with the blocks run as Ray tasks; same arguments, same output.

    Uses the running Ray (``ray.init`` done by the caller) or connects to
    ``ray_address`` ("auto", "ray://host:10001", ...), else starts a local Ray for the
    job and stops it afterwards. ``on_block`` as in ``run_batch``.
    """
    t0 = time.perf_counter()
    plan = plan_job(bundle, encoder, queries, out=out, direction=direction, top_k=top_k,
                    filters=filters, fusion=fusion, block_size=block_size)
    if plan.n_blocks == 0:  # nothing to distribute
        return run_batch(bundle, tokenizer, encoder, queries, out=out, direction=direction,
                         top_k=top_k, filters=filters, fusion=fusion, resume=resume,
                         block_size=block_size, progress=False, on_block=on_block)
    path = getattr(bundle, "path", None)
    if path is None or not (Path(path) / "manifest.json").is_file():
        raise InputError("the Ray engine reads the bundle from its directory on a shared path; "
                         f"this bundle has none with a manifest ({path!r})")
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=ray_address, include_dashboard=False, logging_level="WARNING")
    try:
        return _drive(ray, plan, bundle, tokenizer, encoder, queries, resume=resume,
                      progress=progress, on_block=on_block, t0=t0)
    finally:
        if started:
            ray.shutdown()


def _drive(ray: Any, plan: JobPlan, bundle: Any, tokenizer: Any, encoder: Any,
           queries: Queries, *, resume: bool, progress: bool,
           on_block: Callable[[int, int], None] | None, t0: float) -> BatchReport:
    job = {"bundle_path": str(Path(bundle.path).resolve()), "build_id": bundle.build_id,
           "fingerprint": plan.fingerprint, "target": plan.target,
           "filters": plan.filters.to_dict(), "fusion": plan.fusion.to_dict(),
           "top_k": plan.top_k, "direction": plan.direction,
           "tokenizer": tokenizer.fingerprint, "encoder": encoder.fingerprint,
           "blas_threads": blas_threads()}
    done = plan.open_checkpoint(resume)
    resumed = len(done)
    todo = deque(b for b in range(plan.n_blocks) if b not in done)
    nq = plan.queries
    queries_done = nq - sum(plan.bounds(b)[1] - plan.bounds(b)[0] for b in todo)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=nq, initial=queries_done, unit="q", desc="matching (ray)",
                   dynamic_ncols=True, mininterval=0.5)
    task = ray.remote(max_retries=2)(rank_block_task)
    # boxed in a list: Ray then passes the reference itself, and a worker that already
    # holds this job's ranker never fetches the queries again
    box = [ray.put(queries)]
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, int] = {}
    try:
        if on_block is not None:
            on_block(queries_done, nq)
        while todo or pending:
            while todo and len(pending) < limit:
                b = todo.popleft()
                pending[task.remote(job, box, *plan.bounds(b))] = b
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                b = pending.pop(ref)
                write_table(ray.get(ref), plan.part_path(b), mode=PRIVATE)
                done.add(b)
                plan.record(done)
                lo, hi = plan.bounds(b)
                queries_done += hi - lo
                if bar is not None:
                    bar.update(hi - lo)
                if on_block is not None:
                    on_block(queries_done, nq)
    finally:
        for ref in pending:  # a stopped job leaves its checkpoint, not running tasks
            ray.cancel(ref)
        if bar is not None:
            bar.close()
    t_write = time.perf_counter()
    side = bundle.side(plan.target)
    rows = assemble_parts(plan, target_titles(side), patents=getattr(bundle, "patents", None),
                          empty=lambda: None)
    shutil.rmtree(plan.job_dir, ignore_errors=True)
    return BatchReport(plan.out, nq, rows, plan.n_blocks, resumed,
                       round(time.perf_counter() - t0, 3),
                       extra={"engine": "ray", "block_size": plan.block_size,
                              "stage_seconds": {"assemble_write":
                                                round(time.perf_counter() - t_write, 2)}})


# --- the worker side ------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}  # per worker process: the last bundle and the last job's ranker


def rank_block_task(job: dict[str, Any], box: list[Any], lo: int, hi: int) -> Any:
    """One block of one job, in a Ray worker: its output rows (a polars frame)."""
    from threadpoolctl import threadpool_limits

    ranker = worker_ranker(job, box)
    with threadpool_limits(limits=job["blas_threads"]):
        return ranker.block_frame(lo, hi)


def blas_threads() -> dict[str, int]:
    """The driver's BLAS thread count per library. OpenBLAS splits a GEMM differently for
    another thread count, which moves scores in the last float bit (measured: 474 of 6,000
    scores of a 17.6k-patent job differ between 1 and 2 threads, enough to swap ties); Ray
    starts workers with one thread, so a worker takes the driver's counts and the output
    stays byte-identical (same CPU kind assumed: the BLAS kernel follows the CPU)."""
    from threadpoolctl import threadpool_info

    return {i["prefix"]: int(i["num_threads"]) for i in threadpool_info()
            if i.get("user_api") == "blas"}


def worker_ranker(job: dict[str, Any], box: list[Any]) -> BlockRanker:
    key = f"{job['fingerprint']}:{job['bundle_path']}"
    if _WORKER.get("job") == key:
        return _WORKER["ranker"]
    import ray

    from indexing.index.bundle import IndexBundle
    from matcher.ranker import runtime_for

    path = job["bundle_path"]
    if _WORKER.get("bundle_key") != (path, job["build_id"]):
        _WORKER.clear()
        tokenizer, encoder = runtime_for(path)
        for what, running in (("tokenizer", tokenizer.fingerprint), ("encoder", encoder.fingerprint)):
            if running != job[what]:
                raise BundleMismatchError(
                    f"the Ray worker's {what} is {running}, the driver's {job[what]}: install "
                    "the same encoder and tokenizer configuration on every node")
        # the driver verified the checksums; a worker only checks it reads the same build
        bundle = IndexBundle.load(path, tokenizer_fingerprint=tokenizer.fingerprint,
                                  encoder_fingerprint=encoder.fingerprint, verify=False)
        if bundle.build_id != job["build_id"]:
            raise BundleMismatchError(
                f"the Ray worker reads build {bundle.build_id} at {path}, the driver "
                f"{job['build_id']}: the bundle path must be the same shared directory on "
                "every node")
        _WORKER.update(bundle_key=(path, job["build_id"]), bundle=bundle, tokenizer=tokenizer,
                       encoder=encoder)
    side = _WORKER["bundle"].side(job["target"])
    mask = side.mask(Filters.from_dict(job["filters"]))
    ranker = BlockRanker(side, _WORKER["tokenizer"], _WORKER["encoder"], ray.get(box[0]), mask,
                         FusionConfig.from_dict(job["fusion"]), job["top_k"], job["direction"])
    _WORKER.update(job=key, ranker=ranker)
    return ranker
