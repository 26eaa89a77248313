"""What a build is configured with: field weights, index settings, the quality gate.

``BuildConfig`` is recorded in every bundle manifest (``config``) and read back by the
publish gate; the field names of each side and the build stages are defined here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patmatch.config import checked_fields
from patmatch.errors import ConfigError

from indexing.encoders.fields import FIELD_MAX_CHARS
from indexing.index.dense import DenseConfig
from indexing.index.sparse import SparseConfig

STAGES = ("load", "label", "tokenize", "bm25", "encode", "faiss", "manifest")
PATENT_FIELDS = ("title", "abstract", "claims", "first_claim", "labels")
DEMAND_FIELDS = ("title", "text", "labels")
# text fields that also get the tokenizer's character n-gram families as BM25 fields
# named <field>_bigram / <field>_char (indexing/text/ngrams.py)
NGRAM_BASES = {"patents": ("title", "abstract", "claims"), "demands": ("title", "text")}
NGRAM_FAMILIES = ("bigram", "char")


def lexical_field_names(side: str) -> tuple[str, ...]:
    base = PATENT_FIELDS if side == "patents" else DEMAND_FIELDS
    return base + tuple(f"{f}_{fam}" for f in NGRAM_BASES[side] for fam in NGRAM_FAMILIES)


def _weights(d: Any, name: str) -> dict[str, float]:
    out = {str(k): float(v) for k, v in dict(d).items()}
    if any(v < 0 for v in out.values()) or not any(v > 0 for v in out.values()):
        raise ConfigError(f"{name} needs non-negative weights with at least one > 0, got {out}")
    return out


def _max_chars(d: Any) -> dict[str, int]:
    """``embed_max_chars``: field name -> a positive whole number of characters."""
    known = sorted(set(PATENT_FIELDS) | set(DEMAND_FIELDS))
    expected = f"a mapping of field name (one of {known}) to a positive whole number of characters"
    if not isinstance(d, Mapping):
        raise ConfigError(f"embed_max_chars: expected {expected}, got {type(d).__name__} {d!r}")
    unknown = sorted(str(k) for k in d if k not in known)
    bad = {k: v for k, v in d.items()
           if isinstance(v, bool) or not isinstance(v, int) or v < 1}
    if unknown or bad:
        got = (f"unknown field(s) {unknown}" if unknown else "") + (
            "; " if unknown and bad else "") + (f"bad value(s) {bad}" if bad else "")
        raise ConfigError(f"embed_max_chars: expected {expected}, got {got}")
    return {str(k): int(v) for k, v in d.items()}


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
    # characters of a field that are embedded (a field not named here is embedded whole),
    # on either side; indexing/encoders/fields.py explains the default first-claim cut.
    # Bundles built before this was recorded were built with the default.
    embed_max_chars: Mapping[str, int] = field(default_factory=lambda: dict(FIELD_MAX_CHARS))
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
    # The fusion the bundle is served with (a FusionConfig as a dict), recorded in the
    # manifest. The matcher owns FusionConfig: the edges that start a build fill in its
    # full, validated form (matcher.config.with_recorded_fusion; label_weight/label_prior
    # above are its defaults for those two fields), so a later change of the code's
    # defaults never changes how an existing bundle ranks. None = not recorded.
    fusion: Mapping[str, Any] | None = None

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
        object.__setattr__(self, "embed_max_chars", _max_chars(self.embed_max_chars))
        if isinstance(self.sparse, Mapping):
            object.__setattr__(self, "sparse", SparseConfig.from_dict(self.sparse))
        if isinstance(self.dense, Mapping):
            object.__setattr__(self, "dense", DenseConfig.from_dict(self.dense))
        object.__setattr__(self, "tokenizer", dict(self.tokenizer or {}))
        if self.fusion is not None:
            if not isinstance(self.fusion, Mapping):
                raise ConfigError(f"fusion must be a mapping (FusionConfig fields), got "
                                  f"{type(self.fusion).__name__}")
            object.__setattr__(self, "fusion", dict(self.fusion))
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
            "embed_max_chars": dict(self.embed_max_chars),
            "claims_max_chars": self.claims_max_chars, "ngram_max_df": self.ngram_max_df,
            "sparse": self.sparse.to_dict(),
            "dense": self.dense.to_dict(), "tokenizer": dict(self.tokenizer),
            "encoder": self.encoder, "keep_invalid": self.keep_invalid,
            "batch_size": self.batch_size, "judged_path": self.judged_path,
            "gate_metric": self.gate_metric, "gate_tolerance": self.gate_tolerance,
            "label_weight": float(self.label_weight), "label_prior": self.label_prior,
            "fusion": dict(self.fusion) if self.fusion is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BuildConfig:
        return cls(**checked_fields(cls, data, "build config keys"))

    @classmethod
    def from_file(cls, path: Path | str, **overrides: Any) -> BuildConfig:
        """A YAML/JSON build config file, with ``overrides`` (None values ignored) on top."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read build config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"build config {path} must be a mapping, got {type(data).__name__}")
        return cls.from_dict({**data, **{k: v for k, v in overrides.items() if v is not None}})
