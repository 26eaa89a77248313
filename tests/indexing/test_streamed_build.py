"""The streamed build (issue 19): chunks of records through tokenize/encode/BM25 give the
very same bundle as the whole corpus at once, and a build from the store never holds the
store's records in a list."""

from __future__ import annotations

import gc
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from indexing.build.build_config import NGRAM_FAMILIES, BuildConfig
from indexing.build.pipeline import build, build_bundle
from indexing.build.stages import field_texts, prepare
from indexing.index.bundle import DOCS_FILE, FACETS_FILE, IndexBundle, Manifest
from indexing.index.sparse import SparseIndex
from indexing.records import PatentRecord
from tests.indexing._bundle_fakes import (
    FakeEncoder, FakeLabeler, FakeTokenizer, lapse, make_records,
)

ASCII = ("lifepo4", "3.5ah", "25℃", "ncm811", "5g", "ai", "igbt", "99.9%")


def corpus() -> tuple[list, list]:
    """Generated records, with ASCII terms met in different fields and chunks (their
    vocabulary order is the order of first sight), duplicates, lapsed and deleted ones."""
    pats, dems = make_records(45, 14)
    for i in range(0, len(pats), 3):
        p = pats[i]
        a, b = ASCII[i % len(ASCII)], ASCII[(i * 5 + 3) % len(ASCII)]
        pats[i] = replace(p, abstract=f"{p.abstract} 采用{a}技术", claims=f"{p.claims}{b}电芯",
                          title=p.title + (f" {b}" if i % 2 else ""))
    pats[4] = lapse(pats[4])
    pats.append(replace(pats[7], title="新版本 电池 标题"))  # duplicate id: last wins
    dems[2] = replace(dems[2], status="deleted", text=dems[2].text + " ncm811")
    dems[5] = replace(dems[5], text=dems[5].text + " 联系13800138000 igbt")
    return pats, dems


def reference_lexical(side: str, recs: list, labels: dict, config: BuildConfig,
                      tok: object) -> SparseIndex:
    """The whole-corpus lexical index, as the build made it before streaming: every
    field's tokens in memory, one SparseIndex.build with the n-gram block beside it."""
    from indexing.text.ngrams import CodedCorpus, coded_fields
    from indexing.text.normalization import normalize_many

    fields = field_texts(side, recs, labels, config)
    weights = config.patent_fields if side == "patents" else config.demand_fields
    ngram = {f: w for f, w in weights.items() if "_" in f and f.rsplit("_", 1)[-1] in NGRAM_FAMILIES}
    words = {f: w for f, w in weights.items() if f not in ngram}
    tokens = {f: [list(tok.tokenize(t)) for t in fields[f]]
              for f, w in words.items() if w > 0 and f in fields}
    extra, ng = None, getattr(tok, "ngram_terms", None)
    wanted = {f: w for f, w in ngram.items() if w > 0}
    if ng is not None and wanted and recs:
        spec, norm = {}, {}
        for f in wanted:
            base, fam = f.rsplit("_", 1)
            if fam in ng.families and base in fields:
                norm.setdefault(base, normalize_many(fields[base]))
                spec[f] = (fam, norm[base])
        coded, vocab = coded_fields(CodedCorpus(ng), spec)
        extra = SparseIndex.build_coded(coded, vocab, wanted, len(recs), config.sparse
                                        ).drop_common(config.ngram_max_df)
    return SparseIndex.build(tokens, words, config.sparse, extra=extra)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def real_tokenizer():  # noqa: ANN201
    from indexing.text.tokenizer import ChineseTokenizer

    return ChineseTokenizer()


@pytest.mark.parametrize("tok_kind", ["fake", "real"])
def test_streamed_index_equals_the_whole_corpus_index(tmp_path: Path, tok_kind: str,
                                                      real_tokenizer) -> None:  # noqa: ANN001
    tok = FakeTokenizer() if tok_kind == "fake" else real_tokenizer
    config = BuildConfig(ngram_max_df=0.4)
    pats, dems = corpus()
    b = IndexBundle.load(build_bundle(pats, dems, out_dir=tmp_path / "s", tokenizer=tok,
                                      encoder=FakeEncoder(), config=config, chunk_rows=7))
    recs, counts = prepare(pats, dems, config)
    assert {k: b.manifest.counts[k] for k in counts} == counts
    for side in ("patents", "demands"):
        want = reference_lexical(side, recs[side], {}, config, tok)
        got = getattr(b, side).sparse
        assert getattr(b, side).ids == [r.id for r in recs[side]]
        assert got.vocab == want.vocab and got.field_weights == want.field_weights
        for part in ("data", "indices", "indptr"):
            assert same_bits(getattr(got.matrix, part), getattr(want.matrix, part)), (side, part)
    if tok_kind == "real":  # ASCII terms in the n-gram families, in first-seen order
        assert {"\u00a7lifepo4", "\u00a73.5ah", "\u00b6lifepo"} <= set(b.patents.sparse.vocab)


def test_chunk_size_does_not_change_a_single_byte_of_the_indexes(tmp_path: Path,
                                                                 real_tokenizer) -> None:  # noqa: ANN001
    pats, dems = corpus()
    kw = dict(tokenizer=real_tokenizer, encoder=FakeEncoder(), labeler=FakeLabeler(),
              config=BuildConfig(ngram_max_df=0.4))
    one = build_bundle(pats, dems, out_dir=tmp_path / "one", chunk_rows=100_000, **kw)
    many = build_bundle(list(reversed(pats[:-1])) + pats[-1:], dems, out_dir=tmp_path / "many",
                        chunk_rows=4, **kw)
    m1, m2 = Manifest.read(one), Manifest.read(many)
    tables = {f"{s}/{t}" for s in ("patents", "demands") for t in (FACETS_FILE, DOCS_FILE)}
    assert set(m1.files) == set(m2.files)
    for name in set(m1.files) - tables:  # ids, BM25 arrays and vocabulary, vectors, FAISS
        assert m1.files[name] == m2.files[name], name
    for name in tables:  # one row group per chunk: equal content, not equal bytes
        assert pl.read_parquet(one / name).equals(pl.read_parquet(many / name)), name
    for key in ("counts", "chains", "labelled", "record_set_hash", "sides"):
        assert getattr(m1, key) == getattr(m2, key), key
    raw = json.loads((one / "manifest.json").read_text(encoding="utf-8"))
    assert raw["counts"]["patents_duplicate_ids"] == 1 and raw["labelled"]["patents"] > 0


def test_unsorted_stream_is_refused(tmp_path: Path) -> None:
    from patmatch.errors import ConfigError

    pats, dems = make_records(10, 2)
    with pytest.raises(ConfigError, match="id order"):
        build_bundle(iter(pats[::-1]), iter(dems), out_dir=tmp_path / "x",
                     tokenizer=FakeTokenizer(), encoder=FakeEncoder())
    assert not list(tmp_path.glob(".*partial*"))


def test_build_from_the_store_holds_one_chunk_of_records(settings, tmp_path: Path) -> None:  # noqa: ANN001
    """`build` over the real SQLite store: the records alive while a chunk is tokenized
    never exceed about one chunk (a list() of the store would hold all 150)."""
    from indexing.store.record_store import open_store

    pats, dems = make_records(150, 30)
    with open_store(settings) as store:
        store.upsert_patents(pats)
        store.upsert_demands(dems)

    alive: list[int] = []

    class Watching(FakeTokenizer):
        def tokenize_many(self, texts):  # noqa: ANN001, ANN201
            gc.collect()
            alive.append(sum(isinstance(o, PatentRecord) for o in gc.get_objects()))
            return super().tokenize_many(texts)

    held = sum(isinstance(o, PatentRecord) for o in gc.get_objects())  # this test's own
    with open_store(settings) as store:
        bid = build(store, settings, tokenizer=Watching(), encoder=FakeEncoder(),
                    labeler=FakeLabeler(), chunk_rows=10)
    b = IndexBundle.load(settings.staging_dir / bid)
    assert b.patents.ids == sorted(p.id for p in pats) and len(alive) >= 15
    assert max(alive) - held <= 2 * 10, alive
    assert b.manifest.labelled["patents"] == 150
