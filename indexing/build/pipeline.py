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
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.build.relabel import relabel
from indexing.index.dense import DenseConfig
from indexing.index.sparse import SparseConfig
from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConfigError
from patmatch.config import checked_fields

if TYPE_CHECKING:
    from indexing.store.record_store import Store
    from patmatch.settings import Settings

STAGES = ("load", "label", "tokenize", "bm25", "encode", "faiss", "manifest")
CRASH_ENV = "PATMATCH_TEST_CRASH_AT"
PATENT_FIELDS = ("title", "abstract", "claims", "first_claim", "labels")
DEMAND_FIELDS = ("title", "text", "labels")
# text fields that also get the tokenizer's character n-gram families as BM25 fields
# named <field>_bigram / <field>_char (indexing/text/ngrams.py)
NGRAM_BASES = {"patents": ("title", "abstract", "claims"), "demands": ("title", "text")}
NGRAM_FAMILIES = ("bigram", "char")


def lexical_field_names(side: str) -> tuple[str, ...]:
    base = PATENT_FIELDS if side == "patents" else DEMAND_FIELDS
    return base + tuple(f"{f}_{fam}" for f in NGRAM_BASES[side] for fam in NGRAM_FAMILIES)
_PARTIAL = re.compile(r"^\.(?P<id>.+)\.partial-(?P<pid>\d+)$")


def crash_point(stage: str) -> None:
    """Test hook: SIGKILL this process when ``PATMATCH_TEST_CRASH_AT`` names ``stage``."""
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def peak_rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _weights(d: Any, name: str) -> dict[str, float]:
    out = {str(k): float(v) for k, v in dict(d).items()}
    if any(v < 0 for v in out.values()) or not any(v > 0 for v in out.values()):
        raise ConfigError(f"{name} needs non-negative weights with at least one > 0, got {out}")
    return out


# = matcher.label_prior.PRIORS (indexing may not import matcher; a test keeps them equal)
LABEL_PRIORS: tuple[str, ...] = ("grade+trl", "grade", "trl")


@dataclass(frozen=True)
class BuildConfig:
    # BM25 field weights: each field is its own BM25 index; scores are summed with these.
    # The n-gram families (bigram 1 : char 0.5 relative to the words, per field) win on
    # all six shared tasks (benchmarks/results/bigram_study.md); a tokenizer without
    # n-grams simply leaves those fields out.
    patent_fields: Mapping[str, float] = field(default_factory=lambda: {
        "title": 2.0, "abstract": 1.0, "claims": 0.5, "labels": 1.0,
        "title_bigram": 2.0, "abstract_bigram": 1.0, "claims_bigram": 0.5,
        "title_char": 1.0, "abstract_char": 0.5, "claims_char": 0.25})
    demand_fields: Mapping[str, float] = field(default_factory=lambda: {
        "title": 2.0, "text": 1.0, "labels": 1.0,
        "title_bigram": 2.0, "text_bigram": 1.0, "title_char": 1.0, "text_char": 0.5})
    # Dense: one unit vector per field, summed with these weights and renormalised (a
    # static encoder averages tokens, so a long claim would drown a short title).
    patent_embed: Mapping[str, float] = field(default_factory=lambda: {
        "title": 0.35, "abstract": 0.45, "first_claim": 0.20})
    demand_embed: Mapping[str, float] = field(default_factory=lambda: {
        "title": 0.35, "text": 0.65})
    claims_max_chars: int = 1500  # claims beyond this add little but cost tokenize time
    # n-gram terms in more than this share of a side's documents are not indexed: their
    # idf is low (<= 1.2) but their postings were most of a query's BM25 time (5.0 ->
    # 4.1 ms per match at 20k); on the six shared tasks nDCG@10 moved by <= 0.4 %
    ngram_max_df: float = 0.3
    sparse: SparseConfig = field(default_factory=SparseConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    tokenizer: Mapping[str, Any] = field(default_factory=dict)  # TokenizerConfig dict
    encoder: str | None = None  # None = settings.encoder
    keep_invalid: bool = False  # keep lapsed/withdrawn patents (legal_valid facet False)
    batch_size: int = 256
    # quality gate (publish)
    judged_path: str | None = None  # None = <home>/judged/qrels.tsv
    gate_metric: str = "ndcg@10"
    gate_tolerance: float = 0.01
    # the ranking prior from grade/TRL this bundle serves by default (matcher/label_prior.py;
    # recorded in the manifest). 0 = off: the measured rule found no weight that helps on
    # the shared tasks without losing on one (benchmarks/results/label_weight_study.md)
    label_weight: float = 0.0
    label_prior: str = "grade+trl"

    def __post_init__(self) -> None:
        for name in ("patent_fields", "demand_fields", "patent_embed", "demand_embed"):
            w = _weights(getattr(self, name), name)
            side = "patents" if name.startswith("patent") else "demands"
            known = (lexical_field_names(side) if name.endswith("_fields")
                     else PATENT_FIELDS if side == "patents" else DEMAND_FIELDS)
            if set(w) - set(known):
                raise ConfigError(f"{name}: unknown field(s) {sorted(set(w) - set(known))}; "
                                  f"expected some of {list(known)}")
            object.__setattr__(self, name, w)
        if isinstance(self.sparse, Mapping):
            object.__setattr__(self, "sparse", SparseConfig.from_dict(self.sparse))
        if isinstance(self.dense, Mapping):
            object.__setattr__(self, "dense", DenseConfig.from_dict(self.dense))
        object.__setattr__(self, "tokenizer", dict(self.tokenizer or {}))
        if not 0 <= self.gate_tolerance < 1:
            raise ConfigError(f"gate_tolerance must be in [0, 1), got {self.gate_tolerance}")
        if not 0 < self.ngram_max_df <= 1:
            raise ConfigError(f"ngram_max_df must be in (0, 1], got {self.ngram_max_df}")
        if not (isinstance(self.label_weight, int | float) and 0 <= self.label_weight <= 1):
            raise ConfigError(f"label_weight must be a number within [0, 1], got {self.label_weight!r}")
        if self.label_prior not in LABEL_PRIORS:
            raise ConfigError(f"label_prior must be one of {LABEL_PRIORS}, got {self.label_prior!r}")
        if self.batch_size < 1 or self.claims_max_chars < 0:
            raise ConfigError("batch_size must be >= 1 and claims_max_chars >= 0")

    def to_dict(self) -> dict[str, Any]:
        return {
            "patent_fields": dict(self.patent_fields), "demand_fields": dict(self.demand_fields),
            "patent_embed": dict(self.patent_embed), "demand_embed": dict(self.demand_embed),
            "claims_max_chars": self.claims_max_chars, "ngram_max_df": self.ngram_max_df,
            "sparse": self.sparse.to_dict(),
            "dense": self.dense.to_dict(), "tokenizer": dict(self.tokenizer),
            "encoder": self.encoder, "keep_invalid": self.keep_invalid,
            "batch_size": self.batch_size, "judged_path": self.judged_path,
            "gate_metric": self.gate_metric, "gate_tolerance": self.gate_tolerance,
            "label_weight": float(self.label_weight), "label_prior": self.label_prior,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BuildConfig:
        return cls(**checked_fields(cls, data, "build config keys"))


# --- progress -------------------------------------------------------------------------
class StageTimer:
    """Stage names on a progress bar (stderr) plus per-stage wall times."""

    def __init__(self, show: bool, stages: Sequence[str] = STAGES) -> None:
        self.timings: dict[str, float] = {}
        self._bar = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=len(stages), desc="build", unit="stage", file=sys.stderr,
                             bar_format="{desc:<18} {bar:20} {n_fmt}/{total_fmt} [{elapsed}]")

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._bar is not None:
            self._bar.set_description(f"build: {name}")
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_description("build: done")
            self._bar.close()


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
    from indexing.build import stages as steps

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
        relabel(store, labeler, patents=patents, demands=live)
        labels = {s: store.load_labels(s) for s in ("patents", "demands")}
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


__all__ = ["CRASH_ENV", "STAGES", "BuildConfig", "StageTimer", "build", "build_bundle",
           "clean_partials", "crash_point", "new_build_id", "peak_rss_mb", "relabel"]
