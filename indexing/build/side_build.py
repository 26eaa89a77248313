"""One side of a streamed build: chunks of records in, the side's bundle files out.

Per chunk (``SideBuild.add``): the ids are appended to ``ids.txt``, the facets and docs
rows are written as a Parquet row group, the record vectors are appended to a spill file,
the words are tokenized (through the token cache) and the n-gram families coded, and
their term counts go to ``postings.TermBlock`` (spilled to disk). The encoder and the
n-gram block run on the pool's threads while this thread tokenizes (the Rust tokenizer,
BLAS and numpy release the GIL). ``finish`` assembles the BM25 arrays and the dense index.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indexing.build.build_config import NGRAM_FAMILIES, PATENT_FIELDS, DEMAND_FIELDS, BuildConfig
from indexing.build.postings import Columns, IdMap, KeySpace, TermBlock, write_postings
from indexing.build.token_cache import TokenCoder
from indexing.index.bundle import DOCS_FILE, FACETS_FILE, IDS_FILE
from indexing.index.facets import record_chains, side_tables

_NEVER = np.iinfo(np.int64).max


class TablesWriter:
    """facets.parquet and docs.parquet, one row group per chunk."""

    def __init__(self, side: str, directory: Path) -> None:
        self.side, self.directory = side, directory
        self._writers: dict[str, Any] = {}

    def add(self, facets: Any, docs: Any) -> None:
        import pyarrow.parquet as pq

        for name, frame in ((FACETS_FILE, facets), (DOCS_FILE, docs)):
            table = frame.to_arrow()
            w = self._writers.get(name)
            if w is None:
                w = self._writers[name] = pq.ParquetWriter(self.directory / name, table.schema,
                                                           compression="zstd")
            w.write_table(table.cast(w.schema))

    def close(self) -> None:
        if not self._writers:  # no record: the empty tables, with their columns
            facets, docs = side_tables(self.side, [], {})
            facets.write_parquet(self.directory / FACETS_FILE)
            docs.write_parquet(self.directory / DOCS_FILE)
        for w in self._writers.values():
            w.close()


class SideBuild:
    def __init__(self, side: str, directory: Path, spill: Path, *, tokenizer: Any,
                 coder: TokenCoder, encoder: Any, cache: Any, config: BuildConfig,
                 pool: ThreadPoolExecutor, timings: dict[str, float]) -> None:
        self.side, self.directory, self.spill = side, directory, spill
        self.encoder, self.cache, self.config, self.coder = encoder, cache, config, coder
        self.pool, self.timings = pool, timings
        directory.mkdir()
        self.ids = open(directory / IDS_FILE, "w", encoding="utf-8")  # noqa: SIM115
        self.tables = TablesWriter(side, directory)
        self.vec_path = spill / f"{side}-vectors.f32"
        self.vec_path.touch()
        self.n = 0
        self.chains: Counter[str] = Counter()
        self.labelled = 0
        weights = config.patent_fields if side == "patents" else config.demand_fields
        self.embed_w = config.patent_embed if side == "patents" else config.demand_embed
        names = PATENT_FIELDS if side == "patents" else DEMAND_FIELDS
        is_ngram = {f: "_" in f and f.rsplit("_", 1)[-1] in NGRAM_FAMILIES for f in weights}
        self.word_fields = [f for f, w in weights.items()
                            if not is_ngram[f] and w > 0 and f in names]
        self.words = TermBlock(f"{side}-words", self.word_fields, weights, spill)
        self.word_space = IdMap()
        ng = getattr(tokenizer, "ngram_terms", None)
        spec = {}
        if ng is not None:
            for f, w in weights.items():
                if is_ngram[f] and w > 0:
                    base, fam = f.rsplit("_", 1)
                    if fam in ng.families and base in names:
                        spec[f] = (fam, base)
        self.families: dict[str, tuple[TermBlock, KeySpace]] = {}
        for fam in NGRAM_FAMILIES:
            fields = [f for f, (x, _) in spec.items() if x == fam]
            if fields:
                self.families[fam] = (TermBlock(f"{side}-{fam}", fields, weights, spill),
                                      KeySpace())
        self.spec = spec  # the whole-corpus build coded the fields in this order
        if spec:
            from indexing.text.ngrams import CodedCorpus

            self.corpus = CodedCorpus(ng)
            self.ascii_first = np.full(0, _NEVER, dtype=np.int64)

    # --- pass 1, one chunk at a time ----------------------------------------------------
    def submit(self, records: Sequence[Any], labels: Mapping[str, Mapping[str, Any]],
               texts: Mapping[str, list[str]]) -> tuple[Future, Future | None]:
        """Start the encoder and the n-gram block on the pool for this chunk."""
        from indexing.encoders.fields import embed_fields

        n = len(records)

        def encode() -> np.ndarray:
            t0 = time.perf_counter()
            out = embed_fields(self.encoder, texts, self.embed_w, n, cache=self.cache,
                               max_chars=self.config.embed_max_chars,
                               batch_size=self.config.batch_size)
            self._add_time("encode_overlapped", t0)
            return out

        chunk = len(self.words.chunk_rows)
        ngrams = self.pool.submit(self._ngrams, texts, n, chunk) if self.families else None
        return self.pool.submit(encode), ngrams

    def tokenize(self, records: Sequence[Any], labels: Mapping[str, Mapping[str, Any]],
                 texts: Mapping[str, list[str]]) -> None:
        """Words (this thread: the tokenizer's Python part holds the GIL), ids, tables."""
        n = len(records)
        every = [t for f in self.word_fields for t in texts[f]]
        lens, ids = self.coder.code(every, self.word_space)
        coded, pos = {}, 0
        for i, f in enumerate(self.word_fields):
            fl = lens[i * n:(i + 1) * n]
            total = int(fl.sum())
            coded[f] = (np.repeat(np.arange(n, dtype=np.int64), fl), ids[pos:pos + total])
            pos += total
        self.words.add(coded, n, len(self.word_space))
        self.ids.write(("\n" if self.n else "") + "\n".join(r.id for r in records))
        facets, docs = side_tables(self.side, records, labels)
        self.tables.add(facets, docs)
        for r in records:
            lab = labels.get(r.id)
            self.labelled += lab is not None
            self.chains.update(record_chains(r, lab or {}))
        self.n += n

    def write_vectors(self, vectors: np.ndarray) -> None:
        with open(self.vec_path, "ab") as fh:
            fh.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())

    def _ngrams(self, texts: Mapping[str, list[str]], n: int, chunk: int) -> None:
        from indexing.text.ngrams import ASCII_KEY_BIT as _ASCII_BIT
        from indexing.text.normalization import normalize_many

        t0 = time.perf_counter()
        norm: dict[str, list[str]] = {}
        coded: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for call, (f, (fam, base)) in enumerate(self.spec.items()):
            if base not in norm:
                norm[base] = normalize_many(texts[base])
            rows, keys = self.corpus.family(fam, norm[base])
            # the ASCII terms' order in the vocabulary is the order the in-memory build met
            # them: field by field (this call order), then by row, then within the text
            asc = keys[keys >= _ASCII_BIT] & ~_ASCII_BIT
            if asc.size:
                u, at = np.unique(asc.astype(np.int64), return_index=True)
                self.ascii_first = _grown(self.ascii_first, int(u.max()) + 1)
                first = (call << 50) | (chunk << 32) | at
                self.ascii_first[u] = np.minimum(self.ascii_first[u], first)
            space = self.families[fam][1]
            coded.setdefault(fam, {})[f] = (rows, space.ids(keys))
        for fam, (block, space) in self.families.items():
            block.add(coded.get(fam, {}), n, len(space))
        self._add_time("ngrams_overlapped", t0)

    def _add_time(self, name: str, t0: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)

    # --- pass 2 -------------------------------------------------------------------------
    def close_tables(self) -> None:
        self.ids.close()
        self.tables.close()

    def write_bm25(self) -> dict[str, int]:
        blocks = [self._word_columns()]
        if self.n:
            blocks += [self._family_columns(fam, b, s) for fam, (b, s) in self.families.items()]
        return write_postings(self.directory, blocks, self.n, self.config.sparse)

    def _word_columns(self) -> Columns:
        n_terms = len(self.word_space)
        order = self.words.first_seen_order(n_terms)
        words = self.coder.words.terms()
        src = self.word_space.source
        return Columns(self.words, n_terms, order, [words[i] for i in src[order].tolist()])

    def _family_columns(self, fam: str, block: TermBlock, space: KeySpace) -> Columns:
        """The in-memory build's order: code points, then bigram keys, ascending; then
        ASCII terms as first met; terms in more than ``ngram_max_df`` of the documents
        dropped (``SparseIndex.drop_common``)."""
        from indexing.text.ngrams import ASCII_KEY_BIT as _ASCII_BIT
        from indexing.text.ngrams import CODE_POINT_LIMIT as _CP_LIMIT
        from indexing.text.ngrams import PREFIXES

        keys = space.keys
        small = np.flatnonzero(keys < _CP_LIMIT)
        asc = np.flatnonzero(keys >= _ASCII_BIT)
        pair = np.flatnonzero((keys >= _CP_LIMIT) & (keys < _ASCII_BIT))
        first = self.ascii_first[(keys[asc] & ~_ASCII_BIT).astype(np.int64)]
        order = np.concatenate([small[np.argsort(keys[small], kind="stable")],
                                pair[np.argsort(keys[pair], kind="stable")],
                                asc[np.argsort(first, kind="stable")]])
        df = block.docs_per_term[: keys.size][order]
        order = order[df <= self.config.ngram_max_df * self.n]
        return Columns(block, keys.size, order, self.corpus.decode(keys[order], PREFIXES[fam]))

    def vectors(self) -> np.ndarray:
        dim = int(self.encoder.dimension)
        if not self.n:
            return np.zeros((0, dim), dtype=np.float32)
        return np.memmap(self.vec_path, dtype=np.float32, mode="r", shape=(self.n, dim))


def _grown(a: np.ndarray, size: int) -> np.ndarray:
    if a.size >= size:
        return a
    out = np.full(max(size, 2 * a.size), _NEVER, dtype=a.dtype)
    out[: a.size] = a
    return out


__all__ = ["SideBuild", "TablesWriter"]
