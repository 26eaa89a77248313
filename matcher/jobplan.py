"""A batch job's plan and checkpoint, shared by every engine (local, Ray).

The plan is everything that decides the output (bundle build, queries, direction, top-k,
filters, fusion, block size) and its fingerprint; the checkpoint is the job folder next to
the output: one parquet part per finished block plus ``state.json``. Engines differ only
in where blocks run, so a job started on one engine resumes on the other.

``state.json`` keeps ``blocks_done`` (the finished prefix, which the local engine fills in
order) and ``parts`` (every finished block: Ray finishes them out of order).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexing.index.filters import Filters
from matcher.config import FusionConfig, recorded_fusion
from matcher.kernels import block_size_for
from matcher.queries import Queries
from patmatch.atomic_io import PRIVATE, atomic_write_json
from patmatch.errors import ConflictError, InputError

FORMATS = (".parquet", ".csv", ".xlsx")
DIRECTIONS = ("demand-to-patent", "patent-to-demand")
JOB_VERSION = 1


def job_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.job"


def job_fingerprint(spec: dict[str, Any], queries: Queries) -> str:
    h = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode())
    for qid, text in zip(queries.ids, queries.texts):
        h.update(qid.encode() + b"\x1f" + text.encode() + b"\x1e")
    if queries.vectors is not None:
        h.update(np.ascontiguousarray(queries.vectors, dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class JobPlan:
    out: Path
    direction: str
    top_k: int
    filters: Filters
    fusion: FusionConfig
    target: str  # the ranked side: "patents" or "demands"
    block_size: int
    spec: dict[str, Any]
    fingerprint: str
    queries: int

    @property
    def job_dir(self) -> Path:
        return job_dir_for(self.out)

    @property
    def n_blocks(self) -> int:
        return (self.queries + self.block_size - 1) // self.block_size

    def bounds(self, b: int) -> tuple[int, int]:
        return b * self.block_size, min(self.queries, (b + 1) * self.block_size)

    def part_path(self, b: int) -> Path:
        return self.job_dir / f"part-{b:06d}.parquet"

    def open_checkpoint(self, resume: bool) -> set[int]:
        """The blocks already finished (empty unless ``resume`` finds this plan's
        checkpoint); a checkpoint of other inputs is refused on resume, else removed."""
        job = self.job_dir
        state_path = job / "state.json"
        done: set[int] = set()
        if job.exists():
            state = json.loads(state_path.read_text()) if state_path.exists() else {}
            if resume and state.get("fingerprint") == self.fingerprint:
                parts = state.get("parts")
                done = (set(int(b) for b in parts) if parts is not None
                        else set(range(int(state.get("blocks_done", 0)))))
                done = {b for b in done if 0 <= b < self.n_blocks and self.part_path(b).exists()}
            elif resume and state:
                raise ConflictError(
                    f"cannot resume {self.out.name}: the checkpoint in {job} was made for other "
                    "inputs or options (bundle, queries, direction, top-k, filters or fusion "
                    "differ); rerun without --resume to start over", details={"job_dir": str(job)})
            else:
                shutil.rmtree(job)
        job.mkdir(parents=True, exist_ok=True)
        if not done:
            self.record(done)
        return done

    def record(self, done: set[int]) -> None:
        """Write ``state.json`` for the finished blocks ``done`` (after their parts)."""
        prefix = 0
        while prefix in done:
            prefix += 1
        atomic_write_json(self.job_dir / "state.json",
                          {"fingerprint": self.fingerprint, "spec": self.spec,
                           "blocks_done": prefix, "parts": sorted(done), "queries": self.queries},
                          mode=PRIVATE, indent=None)


def plan_job(bundle: Any, encoder: Any, queries: Queries, *, out: Path,
             direction: str = "demand-to-patent", top_k: int = 20,
             filters: Filters | None = None, fusion: FusionConfig | None = None,
             block_size: int | None = None) -> JobPlan:
    """Check the options and fix everything that decides the job's output."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"output must end with one of {FORMATS}, got {out.name!r}")
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be demand-to-patent or patent-to-demand, got {direction!r}")
    if top_k < 1:
        raise InputError(f"top-k must be >= 1, got {top_k}")
    # the bundle's recorded fusion (with its label prior), exactly as the interactive
    # ranker uses it: without this a batch job ranked a label-weighted bundle plainly
    fusion = fusion or recorded_fusion(bundle)
    filters = filters if filters is not None else Filters()
    target = "patents" if direction == "demand-to-patent" else "demands"
    if target == "demands":
        filters = Filters.from_dict({**filters.to_dict(), "valid_only": False})
    bsize = block_size or block_size_for(len(bundle.side(target).ids))
    spec = {"version": JOB_VERSION, "build_id": getattr(bundle, "build_id", None),
            "direction": direction, "top_k": top_k, "filters": filters.to_dict(),
            "fusion": fusion.to_dict(), "block_size": bsize,
            "encoder": getattr(encoder, "fingerprint", None) if queries.vectors is None else None}
    return JobPlan(out, direction, top_k, filters, fusion, target, bsize, spec,
                   job_fingerprint(spec, queries), len(queries.ids))
