"""Demo data is valid data (issue 13 follow-up: "the demo build drops 378 of 2,994 patents
as invalid"). What the build drops are patents whose legal status ends their term or
application (权利终止, 驳回, 视为撤回: about one in eight, as in a real patent stock), which
matching leaves out by design (``BuildConfig.keep_invalid``); the records themselves are
valid. Generated without the deliberately flawed rows, every file ingests with no reject,
no duplicate and nothing coerced; with them, the rejects are exactly the broken rows."""

from __future__ import annotations

from pathlib import Path

from indexing.intake.ingest import ingest_files
from indexing.records import patent_is_valid
from indexing.store.record_store import open_store
from indexing.training.demo_data import generate, load_vocab
from patmatch.settings import Settings

# what a clean export may show in the report: masking of personal data typed into text
ALLOWED_CLEANING = {"pii_masked", "id_numbers_masked"}


def test_clean_demo_data_ingests_with_no_reject(tmp_path: Path, settings: Settings) -> None:
    files = generate(tmp_path / "d", n_patents=600, n_demands=150, seed=7, flawed=False)
    assert (files.n_bad_patents, files.n_bad_demands, files.n_repeated_demands) == (0, 0, 0)
    with open_store(settings) as store:
        rp = ingest_files("patents", list(files.patent_files), store, rejects_dir=tmp_path / "r")
        rd = ingest_files("demands", list(files.demand_files), store, rejects_dir=tmp_path / "r")
        stored = list(store.iter_patents())
    assert (rp.read, rp.accepted, rp.rejected, rp.duplicates) == (600, 600, 0, 0), rp.to_dict()
    assert (rd.read, rd.accepted, rd.rejected, rd.duplicates) == (150, 150, 0, 0), rd.to_dict()
    assert rp.rejects_path is None and rd.rejects_path is None
    assert not rp.excel_errors and not rd.excel_errors
    assert set(rp.cleaned) <= ALLOWED_CLEANING and set(rd.cleaned) <= ALLOWED_CLEANING, \
        (rp.cleaned, rd.cleaned)
    # the build's "dropped invalid patents" are the lapsed/refused/withdrawn ones, no other
    ended = set(load_vocab()["invalid_status"])
    dropped = [p for p in stored if not patent_is_valid(p)]
    assert dropped and all(p.legal_status in ended for p in dropped)
    assert 0.07 <= len(dropped) / len(stored) <= 0.17
    assert all(patent_is_valid(p) for p in stored if p.legal_status not in ended)


def test_flawed_rows_are_the_only_rejects(tmp_path: Path) -> None:
    """The default demo files: every reject is one of the deliberately broken rows."""
    files = generate(tmp_path / "d", n_patents=1200, n_demands=300, seed=7)
    rp = ingest_files("patents", list(files.patent_files), None, rejects_dir=None, dry_run=True)
    rd = ingest_files("demands", list(files.demand_files), None, rejects_dir=None, dry_run=True)
    assert rp.rejected == files.n_bad_patents and rp.accepted == 1200 - files.n_bad_patents
    assert rd.rejected <= files.n_bad_demands  # HTML rows are accepted after stripping
    assert rd.repeated_ids == files.n_repeated_demands >= 1


def test_cli_demo_data_clean(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    res = CliRunner().invoke(app, ["demo-data", "--patents", "400", "--demands", "80", "--seed",
                                   "2", "--clean", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "d"
    for kind, n in (("patents", 400), ("demands", 80)):
        rep = ingest_files(kind, sorted(out.glob(f"{kind}_*")), None, rejects_dir=None,
                           dry_run=True)
        assert (rep.read, rep.accepted, rep.rejected, rep.duplicates) == (n, n, 0, 0), kind
