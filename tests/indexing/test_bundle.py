from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexing.build.pipeline import build_bundle
from indexing.index.bundle import IndexBundle, Manifest, current_bundle_path, verify_bundle
from indexing.index.filters import Filters
from patmatch.errors import BundleIntegrityError, BundleMismatchError, NoBundleError
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeTokenizer, make_records,
)

SIDE_FILES = {"ids.txt", "facets.parquet", "docs.parquet", "bm25_data.npy", "bm25_indices.npy",
              "bm25_indptr.npy", "bm25_vocab.json", "vectors.npy", "faiss.index"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pats, dems = make_records(150, 40)
    out = tmp_path_factory.mktemp("b") / "b1"
    return build_bundle(pats, dems, out_dir=out, tokenizer=FakeTokenizer(),
                        encoder=FakeEncoder(), labeler=FakeLabeler())


@pytest.fixture()
def copy(built: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(built, dst)
    return dst


def test_layout_and_manifest(built: Path) -> None:
    m = json.loads((built / "manifest.json").read_text())
    for side in ("patents", "demands"):
        assert SIDE_FILES <= {p.name for p in (built / side).iterdir()}
    assert set(m["files"]) == {p.relative_to(built).as_posix() for p in built.rglob("*")
                               if p.is_file() and p.name != "manifest.json"}
    assert m["counts"]["patents"] == 150 and m["counts"]["demands"] == 40
    assert m["tokenizer"]["fingerprint"] == "tok-fake-1"
    assert m["encoder"]["fingerprint"] == "enc-fake-1" and m["encoder"]["dimension"] == 32
    assert sum(m["chains"]["patents"].values()) >= 150
    assert len(m["record_set_hash"]) == 64
    assert {"numpy", "bm25s", "polars", "python"} <= set(m["libraries"])
    assert m["config"]["sparse"]["method"] == "lucene"
    assert set(m["timings"]) >= {"tokenize", "encode", "bm25", "faiss"}
    assert m["labeler"]["version"] == "fake-labeler-1"


def test_load_and_search_both_sides(built: Path) -> None:
    b = IndexBundle.load(built, tokenizer_fingerprint="tok-fake-1",
                         encoder_fingerprint="enc-fake-1")
    assert b.build_id == "b1" and len(b.patents) == 150 and len(b.demands) == 40
    assert b.patents.vectors.shape == (150, 32)
    rid = b.patents.ids[17]
    assert b.patents.row_of(rid) == 17 and b.patents.row_of("nope") is None
    assert b.patents.doc(17)["id"] == rid
    rows, _ = b.patents.search_lexical(["锂", "电池"], 5, Filters(chains=("battery_storage",)))
    assert len(rows) == 5
    assert all("battery_storage" in b.patents.facets["chains"][int(r)] for r in rows)
    q = FakeEncoder().encode_queries(["抗体 药物"])[0]
    f = Filters(regions=("江苏省",), chains=("biomedicine",))
    mask = b.patents.mask(f)
    rows, _ = b.patents.search_dense(q, 3, mask)
    assert len(rows) == min(3, int(mask.sum())) and mask[rows].all()
    assert b.patents.mask(f) is mask  # cached
    qm = b.patents.query_matrix([["锂", "电池"]])
    np.testing.assert_allclose((qm @ b.patents.lexical_matrix().T).toarray()[0],
                               b.patents.lexical_scores(["锂", "电池"]), rtol=1e-5)


def test_docs_never_hold_contact_data(built: Path) -> None:
    b = IndexBundle.load(built)
    for side in (b.patents, b.demands):
        assert not {"contact_name", "contact_phone", "contact_email", "inventors"} & set(
            side.docs.columns)
    blob = b"".join(p.read_bytes() for p in built.rglob("*") if p.is_file())
    assert "13800138000".encode() not in blob and "李四".encode() not in blob


def test_confidential_demands_indexed_with_facets(built: Path) -> None:
    d = IndexBundle.load(built).demands
    assert d.facets["confidential"].sum() == 10  # every 4th of 40
    assert set(d.facets["owner"].to_list()) == {"centre0", "centre1", "centre2"}
    hidden = d.mask(Filters(hide_confidential=True, viewer="centre0"))
    conf = d.facets["confidential"].to_numpy()
    own = (d.facets["owner"] == "centre0").to_numpy()
    assert np.array_equal(hidden, ~conf | own)


def test_fingerprint_mismatch_says_what_differs(built: Path) -> None:
    with pytest.raises(BundleMismatchError) as e:
        IndexBundle.load(built, encoder_fingerprint="enc-other")
    assert "encoder" in e.value.message and "enc-fake-1" in e.value.message
    assert "enc-other" in e.value.message and "tokenizer:" not in e.value.message
    with pytest.raises(BundleMismatchError, match="tokenizer"):
        IndexBundle.load(built, tokenizer_fingerprint="tok-x")


@pytest.mark.parametrize("victim", ["patents/vectors.npy", "demands/bm25_indices.npy",
                                    "patents/facets.parquet", "demands/ids.txt"])
def test_corruption_detected_at_load(copy: Path, victim: str) -> None:
    p = copy / victim
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    assert any(victim in problem for problem in verify_bundle(copy))
    with pytest.raises(BundleIntegrityError, match=victim.split("/")[1]):
        IndexBundle.load(copy)


def test_missing_extra_and_manifest_problems(copy: Path) -> None:
    (copy / "patents" / "docs.parquet").unlink()
    (copy / "demands" / "stray.bin").write_bytes(b"x")
    problems = verify_bundle(copy)
    assert any("missing file patents/docs.parquet" in p for p in problems)
    assert any("unexpected file demands/stray.bin" in p for p in problems)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleIntegrityError, match="not JSON"):
        IndexBundle.load(copy)
    assert verify_bundle(copy)


def test_manifest_format_version_checked(copy: Path) -> None:
    m = Manifest.read(copy).to_dict()
    m["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(m), "utf-8")
    with pytest.raises(BundleIntegrityError, match="format_version"):
        IndexBundle.load(copy)


def test_current_bundle_path_without_publish(settings) -> None:  # noqa: ANN001
    with pytest.raises(NoBundleError, match="patmatch build"):
        current_bundle_path(settings)


def test_hnsw_bundle_round_trip(tmp_path: Path) -> None:
    from indexing.build.build_config import BuildConfig
    pats, dems = make_records(200, 10)
    out = build_bundle(pats, dems, out_dir=tmp_path / "h", tokenizer=FakeTokenizer(),
                       encoder=FakeEncoder(), labeler=FakeLabeler(),
                       config=BuildConfig(dense={"kind": "auto", "flat_max_rows": 100,
                                                 "exact_below": 0}))
    m = Manifest.read(out)
    assert m.sides["patents"]["dense_kind"] == "hnsw_sq8" and "patents/faiss.index" in m.files
    assert m.sides["demands"]["dense_kind"] == "flat"
    assert m.config["dense"]["flat_max_rows"] == 100  # the size and kind are recorded
    assert m.config["dense"]["compressed_kind"] == "hnsw_sq8"
    b = IndexBundle.load(out)
    assert b.patents.dense.kind == "hnsw_sq8"
    q = FakeEncoder().encode_queries(["光伏 组件"])[0]
    f = Filters(chains=("pv",), regions=("浙江",))
    rows, _ = b.patents.search_dense(q, 5, f)
    mask = b.patents.mask(f)
    assert len(rows) == min(5, int(mask.sum())) and mask[rows].all()
