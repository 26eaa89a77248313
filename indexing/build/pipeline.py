"""Build an index bundle: records -> tokens, vectors, BM25, FAISS, facets, manifest.

``build_bundle`` is pure (records -> a complete bundle directory) and takes any
tokenizer/encoder/labeler with the contract's methods, so tests run it with tiny fakes
and evaluation tasks run it over ../shared corpora. It streams the records in chunks
(``stages.run``): lists or id-ordered iterators, never the whole corpus' tokens or
postings in memory. ``build`` wires it to the store (records and labels read once, as
id-ordered cursors), the configured tokenizer/encoder and the caches, writing into the
staging area.

A bundle directory appears only complete: everything is written into a hidden
``.<id>.partial-<pid>`` sibling that is renamed at the very end, and partial directories
whose process is gone are removed by the next build.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConfigError

from indexing.build import stages as steps
from indexing.build.build_config import BuildConfig
from indexing.build.record_stream import CHUNK_ROWS
from indexing.index.bundle import SIDES
from indexing.build.stage_timer import StageTimer

if TYPE_CHECKING:
    from indexing.store.record_store import Store
    from patmatch.settings import Settings

_PARTIAL = re.compile(r"^\.(?P<id>.+)\.partial-(?P<pid>\d+)$")


# --- staging hygiene ------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    import psutil

    return pid == os.getpid() or psutil.pid_exists(pid)


def clean_partials(directory: Path) -> list[Path]:
    """Remove ``.<id>.partial-<pid>`` directories left by dead processes."""
    removed = []
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        m = _PARTIAL.match(p.name)
        if m and p.is_dir() and not _pid_alive(int(m["pid"])):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def new_build_id(staging: Path, bundles: Path | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sortable by time, never reused (even after pruning)."""
    import secrets

    while True:
        bid = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        if not (staging / bid).exists() and not (bundles is not None and (bundles / bid).exists()):
            return bid


# --- the pure build -------------------------------------------------------------------
def build_bundle(patents: Iterable[Any], demands: Iterable[Any], *, out_dir: Path,
                 tokenizer: Any, encoder: Any, labeler: Any = None,
                 config: BuildConfig = BuildConfig(), cache: Any = None,
                 labels: Mapping[str, Any] | None = None,
                 build_id: str | None = None, show_progress: bool = False,
                 encoder_config: Mapping[str, Any] | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 token_cache_dir: Path | None = None, chunk_rows: int = CHUNK_ROWS,
                 on_labels: Callable[[str, dict], None] | None = None) -> Path:
    """Records -> a complete bundle directory at ``out_dir`` (must not exist).

    ``patents``/``demands``: lists (sorted here), or iterators in id order (a store's
    cursors), consumed once, ``chunk_rows`` records at a time: the build never holds the
    whole corpus (``stages.run``). ``labels``: optional precomputed labels per side,
    ``{"patents": {id: label_dict} or an id-ordered iterator of (id, label_dict), ...}``;
    records without one are labelled with ``labeler`` when given. Encoding goes through
    ``cache`` (an ``EmbeddingCache``) when given, so unchanged texts are not re-encoded;
    ``token_cache_dir`` does the same for tokenization. ``on_labels(side, labels)`` gets
    the labels the ``labeler`` made, chunk by chunk (``build`` keeps them in the store).
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ConfigError(f"bundle output directory {out_dir} already exists; "
                          "bundles are immutable, choose a new build id")
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(out_dir.parent)
    work = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    timer = StageTimer(show_progress)
    try:
        steps.run(patents, demands, work=work, tokenizer=tokenizer,
                  encoder=encoder, labeler=labeler, config=config, cache=cache,
                  labels=labels or {}, build_id=build_id or out_dir.name,
                  timer=timer, encoder_config=encoder_config, on_stage=on_stage,
                  token_cache_dir=token_cache_dir, chunk_rows=chunk_rows, on_labels=on_labels)
        atomic_rename(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        timer.close()
    return out_dir


def build(store: Store, settings: Settings, config: BuildConfig = BuildConfig(), *,
          tokenizer: Any = None, encoder: Any = None, labeler: Any = None,
          show_progress: bool = False, encoder_config: Mapping[str, Any] | None = None,
          chunk_rows: int = CHUNK_ROWS) -> str:
    """Store -> a new bundle in ``settings.staging_dir``; returns its build id.

    The store is read once, as streams in id order (records and labels), never as lists;
    labels the labeler makes on the way are kept in the store chunk by chunk (labels of
    lapsed patents and vanished records are ``relabel``'s business: ``patmatch nightly``).
    ``encoder_config``: the ``EncoderConfig.to_dict()`` of a passed-in ``encoder``, so the
    manifest records how to load it again (the quality gate and the API need that)."""
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    clean_partials(settings.staging_dir)
    if tokenizer is None:
        from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

        tokenizer = ChineseTokenizer(TokenizerConfig.from_dict(dict(config.tokenizer)))
    if encoder is None:
        from indexing.encoders.encoder import EncoderConfig, load_encoder

        ec = EncoderConfig(name=config.encoder or settings.encoder)
        encoder = load_encoder(ec, settings)
        encoder_config = ec.to_dict()
    if labeler is None:
        labeler = _default_labeler(tokenizer)
    # Records and labels are read once, side by side in id order: what has no current
    # label is labelled in its chunk and kept in the store (the next build reuses it);
    # a label set made by another labeler version is relabelled whole.
    version = getattr(labeler, "version", None) if labeler is not None else None
    reset = {s: labeler is not None and store.labels_version(s) != (version or "")
             for s in SIDES}
    written: set[str] = set()

    def keep(side: str, new: dict) -> None:
        store.update_labels(side, new, version or "", reset=reset[side] and side not in written)
        written.add(side)

    build_id = new_build_id(settings.staging_dir, settings.bundles_dir)
    # deleted demands too: the build drops them and its report counts them (it said 0)
    build_bundle(store.iter_patents(), store.iter_demands(include_deleted=True),
                 out_dir=settings.staging_dir / build_id,
                 tokenizer=tokenizer, encoder=encoder, labeler=labeler, config=config,
                 cache=_embedding_cache(settings, encoder),
                 labels={s: None if reset[s] else store.iter_labels(s) for s in SIDES},
                 build_id=build_id, show_progress=show_progress,
                 encoder_config=encoder_config, token_cache_dir=settings.cache_dir / "tokens",
                 chunk_rows=chunk_rows, on_labels=keep)
    return build_id


def _embedding_cache(settings: Settings, encoder: Any) -> Any:
    """The build's embedding cache. A fast static encoder does 10k+ texts/s, so one shard
    per build side instead of one per 2048 texts (each shard is an fsync'ed file); slow
    encoders keep the default, so an interrupted run loses little work."""
    from indexing.encoders.static_encode import FastStaticEncoder, fast_encoder
    from indexing.encoders.embed_cache import EmbeddingCache

    fast = isinstance(fast_encoder(encoder), FastStaticEncoder)
    # a streamed build calls it once per chunk (a shard per chunk with misses): allow
    # a few builds' worth before merging them
    kw = {"flush_every": 1 << 20, "max_shards": 512} if fast else {}
    return EmbeddingCache(settings.cache_dir / "embeddings", **kw)


def _default_labeler(tokenizer: Any) -> Any:
    """The rule labeler when it is installed; None (no labels) otherwise."""
    try:
        from labeling_spec import Labeler
    except ImportError:
        return None
    return Labeler.load(tokenize=tokenizer.tokenize)


__all__ = ["build", "build_bundle", "clean_partials", "new_build_id"]
