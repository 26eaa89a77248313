"""Demo data at benchmark scale: millions of patents as Parquet parts, streamed.

``generate_parts`` writes the same realistic patents and demands as ``generate`` (the same
composing functions and vocabulary) but never holds the corpus: patents go out one part
of ``part_rows`` at a time, and what demands and judgements need of each patent is kept
as a few small integers in numpy arrays (area, subject, problem, effects, usable as a
source), about 20 bytes a patent. Rows are clean (no deliberately bad rows: this data is
for measuring, ``generate`` is for showing the ingest report). Deterministic per seed,
but not the same rows as ``generate`` for that seed.

Files: ``patents-00000.parquet`` ... (one per part), ``demands.parquet``, ``qrels.tsv``.
``patmatch ingest patents`` reads the parts like any Parquet file.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexing.training.demo_data.generator import (MAX_GRADE1, MAX_GRADE2, demand_row,
                                                   load_vocab, patent_row)
from patmatch.atomic_io import atomic_write_bytes
from patmatch.errors import InputError

PATENT_COLUMNS = ("id", "title", "abstract", "claims", "ipc", "applicant", "applicant_type",
                  "legal_status", "application_date", "publication_date", "region",
                  "inventors", "open_license", "license_fee")


@dataclass(frozen=True)
class StreamedFiles:
    out_dir: Path
    patent_files: tuple[Path, ...]
    demands: Path | None
    qrels: Path | None
    n_patents: int
    n_demands: int
    n_qrels: int
    seconds: float


def generate_parts(out_dir: str | Path, n_patents: int, n_demands: int = 0, *, seed: int = 0,
                   part_rows: int = 100_000,
                   on_part: Callable[[int, int], None] | None = None) -> StreamedFiles:
    """Write ``n_patents`` patents in Parquet parts, then ``n_demands`` demands and their
    graded judgements. ``on_part(patents_written, n_patents)`` after each part."""
    import polars as pl

    from patmatch.table_io import write_table

    if n_patents < 1 or n_demands < 0 or part_rows < 1:
        raise InputError(f"need n_patents >= 1, n_demands >= 0, part_rows >= 1; got "
                         f"{n_patents}, {n_demands}, {part_rows}")
    t0 = time.perf_counter()
    v = load_vocab()
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    areas = v["areas"]
    invalid = set(v["invalid_status"])
    # per patent, what demands need: area, subject, problem, fixing and second effect, valid
    meta = np.zeros((n_patents, 5), dtype=np.int32)
    valid = np.zeros(n_patents, dtype=bool)
    ids = np.empty(n_patents, dtype=object) if n_demands else None
    files = []
    for start in range(0, n_patents, part_rows):
        stop = min(n_patents, start + part_rows)
        seen: dict[str, int] = {}  # title repeats are kept rare within a part (bounded)
        cols: dict[str, list[Any]] = {c: [] for c in PATENT_COLUMNS}
        for i in range(start, stop):
            ai = rng.randrange(len(areas))
            si = rng.randrange(len(areas[ai]["subjects"]))
            atype = rng.choices(("university", "institute", "soe"), (55, 30, 15))[0]
            rec, pi, ei = patent_row(rng, v, i, areas[ai], si, atype, rng.randint(2014, 2024), seen)
            meta[i] = (ai, si, pi, ei[0], ei[1])
            valid[i] = rec["legal_status"] not in invalid
            if ids is not None:
                ids[i] = rec["id"]
            for c in PATENT_COLUMNS:
                cols[c].append(rec[c])
        path = out / f"patents-{start // part_rows:05d}.parquet"
        write_table(pl.DataFrame(cols, schema=_PATENT_SCHEMA()), path)
        files.append(path)
        if on_part is not None:
            on_part(stop, n_patents)
    dpath = qpath = None
    n_qrels = 0
    if n_demands:
        dpath, qpath = out / "demands.parquet", out / "qrels.tsv"
        n_qrels = _demands(rng, v, meta, valid, ids, n_demands, dpath, qpath)
    return StreamedFiles(out, tuple(files), dpath, qpath, n_patents, n_demands, n_qrels,
                         round(time.perf_counter() - t0, 2))


def _PATENT_SCHEMA() -> dict[str, Any]:  # noqa: N802 - a constant built lazily (polars import)
    import polars as pl

    return {c: (pl.List(pl.String) if c in ("ipc", "inventors") else
                pl.Boolean if c == "open_license" else pl.String) for c in PATENT_COLUMNS}


def _demands(rng: random.Random, v: dict[str, Any], meta: np.ndarray, valid: np.ndarray,
             ids: Any, n_demands: int, dpath: Path, qpath: Path) -> int:
    """Demands written from valid source patents; grades as in ``generate``: 3 the source,
    2 same subject, problem and both effects, 1 same subject and problem, other effect.
    Candidates come from sorted keys (one ``searchsorted`` per demand), not a scan."""
    import polars as pl

    from patmatch.table_io import write_table

    sources = np.flatnonzero(valid)
    if not len(sources):
        raise InputError("none of the generated patents is valid to write demands from")
    areas = v["areas"]
    m = meta[sources].astype(np.int64)
    key3 = ((m[:, 0] * 1024 + m[:, 1]) * 1024 + m[:, 2])  # area, subject, problem
    key4 = key3 * 1024 + m[:, 4]  # ... and the second effect
    o3, o4 = np.argsort(key3, kind="stable"), np.argsort(key4, kind="stable")
    s3, s4 = key3[o3], key4[o4]
    rows, qrels = [], []
    for j in range(n_demands):
        k = rng.randrange(len(sources))
        src = int(sources[k])
        ai, si, pi, e_fix, e_two = (int(x) for x in meta[src])
        rows.append(demand_row(rng, v, j, areas[ai], si, pi, e_fix, e_two, 2025))
        did = rows[-1]["id"]
        qrels.append(f"{did}\t{ids[src]}\t3\n")
        lo, hi = np.searchsorted(s4, [key4[k], key4[k] + 1])
        two = [int(sources[o4[x]]) for x in range(lo, hi) if sources[o4[x]] != src]
        for t in rng.sample(two, min(MAX_GRADE2, len(two))):
            qrels.append(f"{did}\t{ids[t]}\t2\n")
        lo, hi = np.searchsorted(s3, [key3[k], key3[k] + 1])
        one = [int(sources[o3[x]]) for x in range(lo, hi) if meta[sources[o3[x]], 4] != e_two]
        for t in rng.sample(one, min(MAX_GRADE1, len(one))):
            qrels.append(f"{did}\t{ids[t]}\t1\n")
    cols = list(rows[0])
    write_table(pl.DataFrame({c: [r[c] for r in rows] for c in cols}, infer_schema_length=None),
                dpath)
    atomic_write_bytes(qpath, ("demand_id\tpatent_id\tgrade\n" + "".join(qrels)).encode("utf-8"))
    return len(qrels)
