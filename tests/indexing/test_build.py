from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexing.build.build_config import STAGES, BuildConfig
from indexing.build.pipeline import build, build_bundle, clean_partials
from indexing.index.bundle import IndexBundle, Manifest
from indexing.encoders.embed_cache import EmbeddingCache
from indexing.index.filters import Filters
from patmatch.errors import ConfigError
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeStore, FakeTokenizer, lapse, make_records,
)

TOK = FakeTokenizer()


def make(tmp: Path, pats, dems, name: str = "b", **kw) -> IndexBundle:  # noqa: ANN001
    kw.setdefault("encoder", FakeEncoder())
    out = build_bundle(pats, dems, out_dir=tmp / name, tokenizer=TOK, **kw)
    return IndexBundle.load(out)


def test_lapsed_patents_and_deleted_demands_leave_both_sides(tmp_path: Path) -> None:
    pats, dems = make_records(60, 20)
    gone_p = {p.id for p in pats[:6]}
    pats = [lapse(p) if p.id in gone_p else p for p in pats]
    dems[0] = replace(dems[0], status="deleted")
    b = make(tmp_path, pats, dems)
    m = b.manifest.counts
    assert m["patents"] == 54 and m["patents_dropped_invalid"] == 6
    assert m["demands"] == 19 and m["demands_dropped_deleted"] == 1
    assert not gone_p & set(b.patents.ids) and dems[0].id not in b.demands.ids
    for p in pats[:6]:  # their own text finds other records only, on both sides
        rows, _ = b.patents.search_lexical(TOK.tokenize(p.title + " " + p.abstract), 60)
        assert not gone_p & {b.patents.ids[r] for r in rows}
        q = FakeEncoder().encode_queries([p.text])[0]
        rows, _ = b.patents.search_dense(q, 54)
        assert not gone_p & {b.patents.ids[r] for r in rows}
    kept = make(tmp_path, pats, dems, "k", config=BuildConfig(keep_invalid=True))
    assert len(kept.patents) == 60
    assert kept.patents.mask(Filters()).sum() == 54  # valid_only hides them at query time


def test_duplicate_ids_last_wins_and_order_is_stable(tmp_path: Path) -> None:
    pats, dems = make_records(30, 5)
    newer = replace(pats[3], title="新版本 标题")
    b = make(tmp_path, [*pats, newer][::-1], dems)
    assert b.manifest.counts["patents_duplicate_ids"] == 1
    assert b.patents.ids == sorted(p.id for p in pats)
    assert b.patents.doc(b.patents.row_of(newer.id))["title"] in {newer.title, pats[3].title}


def test_given_labels_are_used_and_labeler_fills_the_rest(tmp_path: Path) -> None:
    pats, dems = make_records(20, 4)
    given = {"patents": {pats[0].id: {"chains": ["ai"], "grade": "A", "trl": 8,
                                      "problem": "独特问题词"}}}
    b = make(tmp_path, pats, dems, labels=given, labeler=FakeLabeler())
    row = b.patents.row_of(pats[0].id)
    assert b.patents.facets["chains"][row].to_list() == ["ai"]
    assert b.patents.facets["trl"][row] == 8 and b.patents.doc(row)["problem"] == "独特问题词"
    assert b.manifest.labelled == {"patents": 20, "demands": 4}
    rows, _ = b.patents.search_lexical(["独特问题词"], 3)  # the labels field is indexed
    assert rows.tolist() == [row]
    unlabelled = make(tmp_path, pats, dems, "u")
    assert unlabelled.manifest.labelled == {"patents": 0, "demands": 0}


def test_stages_reported_in_order(tmp_path: Path) -> None:
    seen: list[str] = []
    pats, dems = make_records(10, 3)
    make(tmp_path, pats, dems, on_stage=seen.append, show_progress=True)
    assert tuple(seen) == STAGES


def test_embedding_cache_rebuild_encodes_only_changes(tmp_path: Path) -> None:
    pats, dems = make_records(200, 50)
    cache = EmbeddingCache(tmp_path / "cache")
    enc = FakeEncoder()
    a = make(tmp_path, pats, dems, "a", encoder=enc, cache=cache)
    first = enc.encoded
    changed = [replace(p, abstract=p.abstract + " 改进") if i < 2 else p
               for i, p in enumerate(pats)]
    b = make(tmp_path, changed, dems, "b", encoder=enc, cache=cache)
    assert enc.encoded - first == 2  # only the two changed abstracts
    same = [i for i in range(2, 200)]
    np.testing.assert_allclose(np.asarray(a.patents.vectors)[same],
                               np.asarray(b.patents.vectors)[same], rtol=1e-6)
    assert a.manifest.record_set_hash != b.manifest.record_set_hash


def test_output_dir_must_not_exist_and_partials_are_cleaned(tmp_path: Path) -> None:
    pats, dems = make_records(5, 2)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        build_bundle(pats, dems, out_dir=tmp_path / "taken", tokenizer=TOK, encoder=FakeEncoder())
    dead = tmp_path / ".x.partial-999999999"
    mine = tmp_path / f".y.partial-{os.getpid()}"
    dead.mkdir()
    mine.mkdir()
    assert clean_partials(tmp_path) == [dead] and mine.exists()


def test_empty_demand_side(tmp_path: Path) -> None:
    pats, _ = make_records(8, 0)
    b = make(tmp_path, pats, [])
    assert len(b.demands) == 0 and b.demands.search_lexical(["锂"], 3)[0].size == 0
    assert b.demands.search_dense(np.ones(32, dtype=np.float32) / 32**0.5, 3)[0].size == 0


def test_build_from_store_into_staging(settings) -> None:  # noqa: ANN001
    pats, dems = make_records(40, 10)
    store = FakeStore(pats, dems)
    bid = build(store, settings, tokenizer=TOK, encoder=FakeEncoder(), labeler=FakeLabeler())
    path = settings.staging_dir / bid
    assert not Manifest.problems(path)
    assert bid != build(store, settings, tokenizer=TOK, encoder=FakeEncoder())
    assert Manifest.read(path).counts["patents"] == 40


def test_build_config_round_trip_and_validation() -> None:
    cfg = BuildConfig(patent_fields={"title": 3, "abstract": 1}, dense={"kind": "hnsw"},
                      sparse={"k1": 1.2}, tokenizer={"backend": "jieba"})
    back = BuildConfig.from_dict(cfg.to_dict())
    assert back.to_dict() == cfg.to_dict() and back.dense.kind == "hnsw"
    for bad in ({"patent_fields": {"title": 0}}, {"demand_embed": {"abstract": 1.0}}, {"gate_tolerance": 2}, {"nope": 1},
                {"dense": {"kind": "x"}}, {"sparse": {"method": "bm25+"}}):
        with pytest.raises(ConfigError):
            BuildConfig.from_dict(bad)


def test_real_tokenizer_and_tiny_encoder(tmp_path: Path) -> None:
    """The production tokenizer and a real (tiny) sentence-transformers encoder."""
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.text.tokenizer import ChineseTokenizer
    from labeling_spec import Labeler

    tok = ChineseTokenizer()
    pats, dems = make_records(40, 10)
    vocab = sorted({t for p in pats for t in tok.tokenize(p.text)})
    enc = make_tiny_encoder(tmp_path / "tiny", vocab, dim=16)
    out = build_bundle([replace(p, title=p.title.replace(" ", "")) for p in pats], dems,
                       out_dir=tmp_path / "real", tokenizer=tok, encoder=enc,
                       labeler=Labeler.load(tokenize=tok.tokenize),
                       cache=EmbeddingCache(tmp_path / "cache"))
    b = IndexBundle.load(out, tokenizer_fingerprint=tok.fingerprint,
                         encoder_fingerprint=enc.fingerprint)
    assert b.tokenizer_config == tok.config
    assert b.manifest.encoder.config == {"name": str(enc.path)}  # reloadable
    assert b.manifest.chains["patents"].get("battery_storage", 0) >= 6
    rows, _ = b.patents.search_lexical(tok.tokenize("锂电池正极材料"), 5,
                                       Filters(chains=("battery_storage",)))
    assert len(rows) > 0
    v = enc.encode_queries(["锂电池正极材料"])[0]
    assert len(b.patents.search_dense(v, 5, Filters(regions=("广东",)))[0]) == 5


def test_token_cache_rebuild_tokenizes_only_changes(tmp_path: Path) -> None:
    class Counting(FakeTokenizer):
        n = 0

        def tokenize_many(self, texts):  # noqa: ANN001, ANN201
            Counting.n += len(texts)
            return super().tokenize_many(texts)

    pats, dems = make_records(50, 10)
    tc = tmp_path / "tokens"
    a = build_bundle(pats, dems, out_dir=tmp_path / "a", tokenizer=Counting(),
                     encoder=FakeEncoder(), token_cache_dir=tc)
    first = Counting.n
    pats[0] = replace(pats[0], abstract="完全 不同 的 摘要")
    b = build_bundle(pats, dems, out_dir=tmp_path / "b", tokenizer=Counting(),
                     encoder=FakeEncoder(), token_cache_dir=tc)
    assert first > 50 and Counting.n - first == 1
    fresh = build_bundle(pats, dems, out_dir=tmp_path / "f", tokenizer=FakeTokenizer(),
                         encoder=FakeEncoder())
    ib, i_fresh = IndexBundle.load(b), IndexBundle.load(fresh)
    assert IndexBundle.load(a).patents.ids == ib.patents.ids
    for q in (["锂"], ["完全", "电池"]):  # cached tokens give the very same index
        assert np.array_equal(ib.patents.lexical_scores(q), i_fresh.patents.lexical_scores(q))
    assert ib.patents.search_lexical(["完全"], 3)[0].tolist() == [0]
    for corrupt in ("pointer", "keys"):  # a broken cache is only a miss
        root = tc / "tok-fake-1"
        if corrupt == "pointer":
            (root / "CURRENT").write_text("gen-gone")
        else:
            (root / (root / "CURRENT").read_text() / "keys.npy").write_bytes(b"corrupt")
        before = Counting.n
        build_bundle(pats, dems, out_dir=tmp_path / corrupt, tokenizer=Counting(),
                     encoder=FakeEncoder(), token_cache_dir=tc)
        assert Counting.n - before > 50, corrupt


def test_cli_build_from_real_store(settings, tmp_path: Path) -> None:  # noqa: ANN001
    """`patmatch build` end to end: SQLite store, real tokenizer and labeler, a tiny
    sentence-transformers model given by path (the manifest records it for reloading)."""
    import json

    from typer.testing import CliRunner

    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.store.record_store import open_store
    from api.cli import app

    pats, dems = make_records(30, 8)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)
    enc = make_tiny_encoder(tmp_path / "tiny", ["锂", "电池", "光伏"], dim=8)
    res = CliRunner().invoke(app, ["build", "--encoder", str(enc.path), "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("{"):])
    m = Manifest.read(Path(out["path"]))
    assert m.counts["patents"] == 30 and m.encoder.config == {"name": str(enc.path)}
    assert m.labelled == {"patents": 30, "demands": 8}  # labelled and kept in the store
    with open_store(settings) as store:
        assert len(store.load_labels("patents")) == 30
    res = CliRunner().invoke(app, ["publish", out["build_id"]])
    assert res.exit_code == 0 and f"已发布 {out['build_id']}（质量门：" in res.output
    text = CliRunner().invoke(app, ["build", "--encoder", str(enc.path), "--no-progress"])
    assert text.exit_code == 0, text.output  # the plain summary reads the typed manifest
    assert "专利 30 条，需求 8 条" in text.output and "内存峰值" in text.output  # 中文摘要
    listing = CliRunner().invoke(app, ["bundles"]).output
    assert "构建编号" in listing and "当前" in listing and "待发布" in listing
    assert "校验通过" in CliRunner().invoke(app, ["verify"]).output
    bad = CliRunner().invoke(app, ["build", "--dense-kind", "ivf"])
    # a bad build setting is the operator's configuration: its own exit code, not input's 2
    assert bad.exit_code == ConfigError.exit_code and "auto|flat|hnsw" in bad.output
    from matcher.config import FusionConfig

    assert m.fusion == FusionConfig().to_dict()  # today's default, recorded in full


def test_cli_build_records_the_configured_fusion(settings, tmp_path: Path,  # noqa: ANN001
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PATMATCH_BUILD_CONFIG is the build config of `patmatch build` without --config; the
    fusion it names (over today's defaults) is what the manifest records."""
    import json

    from typer.testing import CliRunner

    from api.cli import app
    from indexing.store.record_store import open_store
    from indexing.training.tiny_encoder import make_tiny_encoder
    from matcher.config import FusionConfig
    from patmatch.settings import get_settings

    pats, dems = make_records(20, 5)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)
    enc = make_tiny_encoder(tmp_path / "tiny", ["锂", "电池", "光伏"], dim=8)
    cfg = tmp_path / "build.yaml"
    cfg.write_text(f"encoder: {enc.path}\nfusion:\n  weights: [1.0, 0.6]\n", "utf-8")
    monkeypatch.setenv("PATMATCH_BUILD_CONFIG", str(cfg))
    get_settings.cache_clear()
    res = CliRunner().invoke(app, ["build", "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("{"):])
    assert Manifest.read(Path(out["path"])).fusion == FusionConfig(weights=(1.0, 0.6)).to_dict()
    cfg.write_text("fusion:\n  method: borda\n", "utf-8")
    bad = CliRunner().invoke(app, ["build", "--no-progress"])
    assert bad.exit_code == ConfigError.exit_code and "fusion method" in bad.output


def test_fast_static_encoder_matches_sentence_transformers(tmp_path: Path) -> None:
    """The build's StaticEmbedding shortcut gives the sentence-transformers vectors."""
    from indexing.encoders.static_encode import FastStaticEncoder, fast_encoder
    from indexing.training.tiny_encoder import make_tiny_encoder

    enc = make_tiny_encoder(tmp_path / "tiny", ["锂电池", "正极", "光伏", "组件"], dim=16)
    fast = fast_encoder(enc)
    assert isinstance(fast, FastStaticEncoder) and fast.fingerprint == enc.fingerprint
    texts = ["锂电池正极材料", "", "光伏组件 abc 123", "未知词汇混合", "锂电池。光伏。"] * 120
    got, want = fast.encode_documents(texts), enc.encode_documents(texts)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.allclose(got, want, atol=1e-6)
    assert not got[1].any()  # an empty text stays a zero row
    assert fast_encoder(FakeEncoder()).__class__ is FakeEncoder  # others pass through


def test_tokenize_many_dedupes_and_keeps_order() -> None:
    from indexing.build.token_cache import tokenize_many

    class Counting(FakeTokenizer):
        seen: list[str] = []

        def tokenize_many(self, texts):  # noqa: ANN001, ANN201
            Counting.seen += list(texts)
            return super().tokenize_many(texts)

    texts = ["锂 电池", "光伏", "锂 电池", "", "光伏"]
    got = tokenize_many(Counting(), texts)
    assert got == [TOK.tokenize(t) for t in texts]
    assert sorted(Counting.seen) == sorted({*texts})


def test_ngram_families_are_indexed_as_fields_of_their_own(tmp_path: Path) -> None:
    from indexing.text.ngrams import BIGRAM_PREFIX, CHAR_PREFIX
    from indexing.text.tokenizer import ChineseTokenizer

    pats, dems = make_records(40, 6)
    tok = ChineseTokenizer()
    b = IndexBundle.load(build_bundle(pats, dems, out_dir=tmp_path / "ng", tokenizer=tok,
                                      encoder=FakeEncoder()))
    sp = b.patents.sparse
    assert {"title_bigram", "abstract_char", "claims_bigram"} <= set(sp.field_weights)
    assert {"title_bigram", "text_char"} <= set(b.demands.sparse.field_weights)
    assert any(t.startswith(BIGRAM_PREFIX) for t in sp.vocab)
    assert any(t.startswith(CHAR_PREFIX) for t in sp.vocab)
    # the words' own columns are untouched: word-only scores equal a words-only build
    words = IndexBundle.load(build_bundle(
        pats, dems, out_dir=tmp_path / "w", tokenizer=tok, encoder=FakeEncoder(),
        config=BuildConfig(patent_fields={"title": 2.0, "abstract": 1.0, "claims": 0.5,
                                          "labels": 1.0})))
    q = tok.tokenize(pats[0].title)
    assert np.allclose(sp.scores(q), words.patents.sparse.scores(q))
    # and the n-grams add evidence for a query
    lex = tok.tokenize_lexical(pats[0].title)
    assert (sp.scores(lex) >= sp.scores(q)).all() and (sp.scores(lex) > sp.scores(q)).any()
