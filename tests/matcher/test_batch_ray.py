"""The Ray engine: same plan as the local engine, blocks as Ray tasks on a local Ray
started once for this module (no network); output equal to the local engine's, byte for
byte, and a job stopped on one engine resumes on the other."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import polars as pl
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'patmatch[ray]'): "
                                        "Ray engine tests skipped")

from api.cli import app  # noqa: E402
from indexing.index.filters import Filters  # noqa: E402
from matcher.batch import run_batch  # noqa: E402
from matcher.jobplan import job_dir_for  # noqa: E402
from matcher.queries import Queries, queries_from_side  # noqa: E402
from matcher.batch_ray import blas_threads, run_batch_ray  # noqa: E402
from matcher.config import FusionConfig  # noqa: E402
from patmatch.errors import InputError  # noqa: E402
from tests.matcher.conftest import TOPICS, make_records  # noqa: E402

# Ray's start (~10 s) and the workers' first import of the encoder stack (~30 s on the
# shared 2-core machine) put this module over the 20 s budget of the default run
pytestmark = pytest.mark.slow

FUSION = FusionConfig(candidates=20, depth=30)


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def disk_bundle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real bundle directory (tiny encoder recorded in its manifest), and a local Ray."""
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.index.bundle import IndexBundle
    from indexing.records import DemandRecord, PatentRecord
    from indexing.text.tokenizer import ChineseTokenizer

    root = tmp_path_factory.mktemp("raybundle")
    vocab = sorted(set(itertools.chain.from_iterable(TOPICS.values())) | {"问题", "企业", "方法"})
    make_tiny_encoder(root / "tiny", vocab, dim=32, seed=0)
    tokenizer = ChineseTokenizer()
    encoder = load_encoder(EncoderConfig(name=str(root / "tiny")))
    prow, drow = make_records()
    patents = [PatentRecord(p["id"], p["title"], p["abstract"], ipc=tuple(p["ipc"]),
                            applicant_type=p["applicant_type"], region=p["region"],
                            open_license=p["open_license"]) for p in prow]
    demands = [DemandRecord(d["id"], d["text"], title=d["title"], chain=d["chains"][0],
                            region=d["region"]) for d in drow]
    labels = {"patents": {p["id"]: {"chains": p["chains"]} for p in prow},
              "demands": {d["id"]: {"chains": d["chains"]} for d in drow}}
    path = build_bundle(patents, demands, out_dir=root / "b1", tokenizer=tokenizer,
                        encoder=encoder, encoder_config={"name": str(root / "tiny")},
                        build_id="ray-1", labels=labels)
    bundle = IndexBundle.load(path, tokenizer_fingerprint=tokenizer.fingerprint,
                              encoder_fingerprint=encoder.fingerprint)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield bundle, tokenizer, encoder
    ray.shutdown()


@pytest.mark.parametrize("fmt", [".parquet", ".csv"])
def test_ray_output_equals_local(disk_bundle: Any, tmp_path: Path, fmt: str) -> None:
    bundle, tok, enc = disk_bundle
    q0 = queries_from_side(bundle.demands, "demands")
    q = Queries(q0.ids, q0.texts, q0.titles, q0.chains, None)  # encoded in the workers
    kw = dict(top_k=5, fusion=FUSION, block_size=3, progress=False)
    local, remote = tmp_path / f"local{fmt}", tmp_path / f"ray{fmt}"
    run_batch(bundle, tok, enc, q, out=local, **kw)
    seen: list[tuple[int, int]] = []
    rep = run_batch_ray(bundle, tok, enc, q, out=remote, on_block=lambda a, n: seen.append((a, n)),
                        **kw)
    assert remote.read_bytes() == local.read_bytes()
    assert rep.rows == 5 * len(q.ids) and rep.blocks == 4 and rep.extra["engine"] == "ray"
    assert seen[0] == (0, 12) and seen[-1] == (12, 12) and len(seen) == 5
    assert not job_dir_for(remote).exists()
    # workers run with the driver's BLAS thread counts (scores are bit-equal only then)
    assert blas_threads() and all(n >= 1 for n in blas_threads().values())


def test_ray_stopped_job_resumes_on_either_engine(disk_bundle: Any, tmp_path: Path) -> None:
    bundle, tok, enc = disk_bundle
    q = queries_from_side(bundle.patents, "patents", Filters(chains=("pv",)))
    kw = dict(top_k=3, direction="patent-to-demand", block_size=2, progress=False)
    ref = tmp_path / "ref.parquet"
    run_batch(bundle, tok, enc, q, out=ref, **kw)

    def stop_after(k: int) -> Any:
        def on_block(done: int, total: int) -> None:
            if done >= k:
                raise Stop
        return on_block

    out = tmp_path / "out.parquet"
    with pytest.raises(Stop):
        run_batch_ray(bundle, tok, enc, q, out=out, on_block=stop_after(4), **kw)
    assert not out.exists() and job_dir_for(out).exists()
    rep = run_batch(bundle, tok, enc, q, out=out, resume=True, **kw)  # local finishes it
    assert rep.resumed_blocks >= 2 and out.read_bytes() == ref.read_bytes()

    out2 = tmp_path / "out2.parquet"
    with pytest.raises(Stop):
        run_batch(bundle, tok, enc, q, out=out2, on_block=stop_after(2), **kw)
    rep = run_batch_ray(bundle, tok, enc, q, out=out2, resume=True, **kw)  # Ray finishes it
    assert rep.resumed_blocks == 1 and out2.read_bytes() == ref.read_bytes()


def test_ray_refuses_a_bundle_without_directory_and_garbage_options(disk_bundle: Any,
                                                                    tmp_path: Path) -> None:
    bundle, tok, enc = disk_bundle

    class NoPath:
        build_id, patents, demands, path = "x", bundle.patents, bundle.demands, None

        def side(self, name: str) -> Any:
            return bundle.side(name)

    q = Queries(["x"], ["光伏支架"], ["光伏"], [["pv"]], None)
    with pytest.raises(InputError, match="shared path"):
        run_batch_ray(NoPath(), tok, enc, q, out=tmp_path / "o.parquet", progress=False)
    with pytest.raises(InputError):
        run_batch_ray(bundle, tok, enc, q, out=tmp_path / "o.txt", progress=False)
    with pytest.raises(InputError):
        run_batch_ray(bundle, tok, enc, q, out=tmp_path / "o.parquet", top_k=0, progress=False)


def test_cli_engine_ray(disk_bundle: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    bundle, tok, enc = disk_bundle
    runner = CliRunner()
    out = tmp_path / "cli.parquet"
    r = runner.invoke(app, ["match", "--all-demands", "--out", str(out), "--top-k", "4",
                            "--bundle", str(bundle.path), "--engine", "ray", "--no-progress"])
    assert r.exit_code == 0, r.output
    local = tmp_path / "local.parquet"
    r2 = runner.invoke(app, ["match", "--all-demands", "--out", str(local), "--top-k", "4",
                             "--bundle", str(bundle.path), "--no-progress"])
    assert r2.exit_code == 0, r2.output
    assert pl.read_parquet(out).equals(pl.read_parquet(local))
    for bad in (["--engine", "spark"], ["--ray-address", "auto"]):
        r = runner.invoke(app, ["match", "--all-demands", "--out", str(tmp_path / "x.parquet"),
                                "--bundle", str(bundle.path), *bad])
        assert r.exit_code != 0 and "engine" in r.output, r.output
