"""Benchmark-scale demo data: patents streamed as Parquet parts that ingest reads cleanly,
demands and graded judgements pointing at real patents, deterministic per seed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from api.cli import app
from indexing.intake.ingest import read_records
from indexing.training.demo_data.stream import generate_parts
from patmatch.errors import InputError


def test_parts_ingest_cleanly_and_qrels_point_at_patents(tmp_path: Path) -> None:
    seen: list[int] = []
    res = generate_parts(tmp_path / "a", 250, 30, seed=3, part_rows=100,
                         on_part=lambda done, total: seen.append(done))
    assert [p.name for p in res.patent_files] == [f"patents-{i:05d}.parquet" for i in range(3)]
    assert seen == [100, 200, 250]
    ids = set()
    for part in res.patent_files:
        records, rejects = read_records("patents", part)
        assert not rejects and records
        ids |= {r.id for r in records}
    assert len(ids) == 250
    demands, rejects = read_records("demands", res.demands)
    assert len(demands) == 30 and not rejects
    q = pl.read_csv(res.qrels, separator="\t")
    assert set(q["patent_id"]) <= ids and set(q["demand_id"]) == {d.id for d in demands}
    assert (q.filter(pl.col("grade") == 3).height == 30) and q.height == res.n_qrels
    again = generate_parts(tmp_path / "b", 250, 30, seed=3, part_rows=100)
    for x, y in zip(res.patent_files + (res.qrels,), again.patent_files + (again.qrels,)):
        assert x.read_bytes() == y.read_bytes()


@pytest.mark.parametrize("args", [(0, 1, 10), (10, -1, 10), (10, 1, 0)])
def test_garbage_sizes_are_refused(tmp_path: Path, args: tuple[int, int, int]) -> None:
    with pytest.raises(InputError):
        generate_parts(tmp_path, args[0], args[1], part_rows=args[2])


def test_cli_parquet_parts(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["demo-data", "--patents", "120", "--demands", "5",
                                 "--parquet-parts", "50", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert "3 Parquet parts" in r.output
    assert len(list((tmp_path / "d").glob("patents-*.parquet"))) == 3
    r = CliRunner().invoke(app, ["demo-data", "--patents", "10", "--parquet-parts", "5",
                                 "--transfers", "3", "--out", str(tmp_path / "e")])
    assert r.exit_code != 0 and "--transfers" in r.output
