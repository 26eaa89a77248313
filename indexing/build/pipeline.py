"""Build an index bundle: records -> tokens, vectors, BM25, FAISS, facets, manifest.

``build_bundle`` is pure (records in memory -> a complete bundle directory) and takes any
tokenizer/encoder/labeler with the contract's methods, so tests run it with tiny fakes
and evaluation tasks run it over ../shared corpora. ``build`` wires it to the store, the
configured tokenizer/encoder and the embedding cache, writing into the staging area.

A bundle directory appears only complete: everything is written into a hidden
``.<id>.partial-<pid>`` sibling that is renamed at the very end, and partial directories
whose process is gone are removed by the next build.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConfigError

from indexing.build import stages as steps
from indexing.build.build_config import BuildConfig
from indexing.build.relabel import relabel
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
def build_bundle(patents: Sequence[Any], demands: Sequence[Any], *, out_dir: Path,
                 tokenizer: Any, encoder: Any, labeler: Any = None,
                 config: BuildConfig = BuildConfig(), cache: Any = None,
                 labels: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
                 build_id: str | None = None, show_progress: bool = False,
                 encoder_config: Mapping[str, Any] | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 token_cache_dir: Path | None = None) -> Path:
    """Records in memory -> a complete bundle directory at ``out_dir`` (must not exist).

    ``labels``: optional precomputed labels, ``{"patents": {id: label_dict}, "demands":
    ...}``; records without one are labelled with ``labeler`` when given. Encoding goes
    through ``cache`` (an ``EmbeddingCache``) when given, so unchanged texts are not
    re-encoded; ``token_cache_dir`` does the same for tokenization.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ConfigError(f"bundle output directory {out_dir} already exists; "
                          "bundles are immutable, choose a new build id")
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
                             token_cache_dir=token_cache_dir)
        atomic_rename(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        timer.close()
    return out_dir


def build(store: Store, settings: Settings, config: BuildConfig = BuildConfig(), *,
          tokenizer: Any = None, encoder: Any = None, labeler: Any = None,
          show_progress: bool = False, encoder_config: Mapping[str, Any] | None = None) -> str:
    """Store -> a new bundle in ``settings.staging_dir``; returns its build id.

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
    patents = list(store.iter_patents())
    # deleted demands too: the build drops them and its report counts them (it said 0)
    demands = list(store.iter_demands(include_deleted=True))
    live = [d for d in demands if getattr(d, "status", "active") != "deleted"]
    labels = {"patents": store.load_labels("patents"), "demands": store.load_labels("demands")}
    if labeler is None and _needs_labels(patents, live, labels):
        labeler = _default_labeler(tokenizer)
    if labeler is not None:
        # label what is missing once and keep it in the store: the next build reuses it
        relabel(store, labeler, patents=patents, demands=live, loaded=labels)
    build_id = new_build_id(settings.staging_dir, settings.bundles_dir)
    build_bundle(patents, demands, out_dir=settings.staging_dir / build_id,
                 tokenizer=tokenizer, encoder=encoder, labeler=labeler, config=config,
                 cache=_embedding_cache(settings, encoder), labels=labels,
                 build_id=build_id, show_progress=show_progress,
                 encoder_config=encoder_config, token_cache_dir=settings.cache_dir / "tokens")
    return build_id


def _embedding_cache(settings: Settings, encoder: Any) -> Any:
    """The build's embedding cache. A fast static encoder does 10k+ texts/s, so one shard
    per build side instead of one per 2048 texts (each shard is an fsync'ed file); slow
    encoders keep the default, so an interrupted run loses little work."""
    from indexing.encoders.static_encode import FastStaticEncoder, fast_encoder
    from indexing.encoders.embed_cache import EmbeddingCache

    fast = isinstance(fast_encoder(encoder), FastStaticEncoder)
    kw = {"flush_every": 1 << 20} if fast else {}
    return EmbeddingCache(settings.cache_dir / "embeddings", **kw)


def _needs_labels(patents: Sequence[Any], demands: Sequence[Any],
                  labels: Mapping[str, Mapping[str, Any]]) -> bool:
    """A record without a label, or whose label is older than the record."""
    from indexing.build.relabel import for_labelling, is_stale

    return any(is_stale(labels[s].get(r.id), r, None)
               for s, recs in (("patents", patents), ("demands", demands))
               for r in for_labelling(s, recs))


def _default_labeler(tokenizer: Any) -> Any:
    """The rule labeler when it is installed; None (no labels) otherwise."""
    try:
        from labeling_spec import Labeler
    except ImportError:
        return None
    return Labeler.load(tokenize=tokenizer.tokenize)


__all__ = ["build", "build_bundle", "clean_partials", "new_build_id"]
