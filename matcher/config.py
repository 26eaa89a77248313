"""Fusion configuration: frozen, validated, serialisable (saved with every run/export).

The defaults are the measured choice documented in ``docs/matching.md`` (rerun with
``python -m benchmarks.evidence_study``, which applies the rule and prints the choice):
a linear combination of BM25 and cosine, weights 1 : 0.35, where the BM25 side is
normalised against max(best hit, 0.2 x what the query could score) ("bounded min-max",
``lexical_bound``) so that weak lexical evidence is not stretched to full score.
On demands_dev that is nDCG@10 0.802 with the encoder of issue 20 (0.798 before; plain min-max 1 : 0.25: 0.780) with every
known-item task within 1 % of the best single retriever.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from patmatch.config import checked_fields
from patmatch.errors import ConfigError, InputError

Method = Literal["weighted_rrf", "rrf", "linear"]
METHODS: tuple[str, ...] = ("weighted_rrf", "rrf", "linear")
NORMS: tuple[str, ...] = ("minmax", "l2", "zscore")


def _unit_interval(name: str, value: Any) -> float:
    """``value`` as a float within [0, 1] (NaN and text refused with the field named)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ConfigError(f"{name} must be a number within [0, 1], got {value!r}")
    return number


@dataclass(frozen=True)
class FusionConfig:
    """How the lexical and semantic lists become one list.

    ``weights`` = (lexical, semantic). ``candidates`` (k0) is how deep each retriever
    goes before fusion; ``depth`` is how deep the fused list is materialised for
    pagination: offset + limit beyond ``depth`` is refused, so page N never depends on
    what a deeper request would have fetched (stable pagination).
    """

    method: Method = "linear"
    weights: tuple[float, float] = (1.0, 0.35)
    rrf_k: float = 60.0
    norm: Literal["minmax", "l2", "zscore"] = "minmax"
    candidates: int = 200
    depth: int = 200
    # linear min-max only: the lexical side is normalised against max(best hit,
    # lexical_bound x what the query could score) instead of its best hit, so weak
    # lexical evidence is not stretched to 1.0 (0 = plain min-max; see matcher/fusion.py)
    lexical_bound: float = 0.2
    # a ranking prior from the labels (grade/TRL, matcher/label_prior.py): the fused score
    # of a patent gets label_weight x prior added; 0 = off (the measured default,
    # benchmarks/results/label_weight_study.md); a bundle records its own in BuildConfig
    label_weight: float = 0.0
    label_prior: str = "grade+trl"
    # query-side expansion of colloquial abbreviations (钠电 -> 钠离子电池, matcher/expansion.py):
    # the full terms' BM25 terms count this much against 1 for the query's own; 0 = off
    expansion_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"fusion method must be one of {METHODS}, got {self.method!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"fusion norm must be one of {NORMS}, got {self.norm!r}")
        w = tuple(float(x) for x in self.weights)
        if len(w) != 2 or any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
            raise ConfigError(
                f"fusion weights must be two finite numbers >= 0 (lexical, semantic) with a "
                f"positive sum, got {self.weights!r}")
        object.__setattr__(self, "weights", w)
        if not math.isfinite(self.rrf_k) or self.rrf_k < 0:
            raise ConfigError(f"rrf_k must be a finite number >= 0, got {self.rrf_k}")
        for name in ("lexical_bound", "expansion_weight"):
            object.__setattr__(self, name, _unit_interval(name, getattr(self, name)))
        check_label_prior(self.label_weight, self.label_prior)
        object.__setattr__(self, "label_weight", float(self.label_weight))
        if self.candidates < 1 or self.depth < 1:
            raise ConfigError(
                f"candidates and depth must be >= 1, got {self.candidates} and {self.depth}")
        if self.depth > 2 * self.candidates:
            raise ConfigError(
                f"depth {self.depth} cannot exceed 2 x candidates ({2 * self.candidates}): "
                "the fused list holds at most that many records")

    @property
    def bounded(self) -> bool:
        """Whether the lexical side is normalised against what the query could score."""
        return self.method == "linear" and self.norm == "minmax" and self.lexical_bound > 0

    @property
    def lexical_only(self) -> bool:
        return self.method != "rrf" and self.weights[1] == 0

    @property
    def semantic_only(self) -> bool:
        return self.method != "rrf" and self.weights[0] == 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = list(self.weights)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionConfig:
        d = checked_fields(cls, data, "fusion config keys")
        if "weights" in d:
            d["weights"] = tuple(d["weights"])
        return cls(**d)

    def with_overrides(self, overrides: dict[str, Any]) -> FusionConfig:
        """This configuration with a request's overrides applied (None values ignored).

        The overrides are the caller's input, so a bad value is an ``InputError`` (4xx),
        not the operator's ``ConfigError``. Raising ``depth`` raises ``candidates`` with
        it: the fused list holds at most 2 x candidates records.
        """
        clean = {k: (tuple(v) if isinstance(v, list) else v)
                 for k, v in overrides.items() if v is not None}
        unknown = sorted(set(clean) - set(asdict(self)))
        if unknown:
            raise InputError(f"unknown fusion override(s) {', '.join(unknown)}",
                             details={"unknown": unknown})
        if "depth" in clean:
            clean["candidates"] = max(self.candidates, -(-int(clean["depth"]) // 2))
        try:
            return replace(self, **clean)
        except (ConfigError, TypeError, ValueError) as exc:
            raise InputError(f"fusion override rejected: {exc}",
                             details={"fusion": {k: str(v) for k, v in clean.items()}}) from exc


def check_label_prior(weight: Any, prior: Any) -> None:
    """The label-prior fields, validated the same way here and in BuildConfig."""
    from matcher.label_prior import PRIORS

    try:
        w = float(weight)
    except (TypeError, ValueError):
        w = float("nan")
    if not (math.isfinite(w) and 0.0 <= w <= 1.0):
        raise ConfigError(f"label_weight must be a number within [0, 1], got {weight!r}")
    if prior not in PRIORS:
        raise ConfigError(f"label_prior must be one of {PRIORS}, got {prior!r}")


DEFAULT_FUSION = FusionConfig()


# --- the fusion a bundle records ------------------------------------------------------
def with_recorded_fusion(build_config: Any) -> Any:
    """``build_config`` (an ``indexing.build.build_config.BuildConfig``) with its
    ``fusion`` filled in full and validated, ready for the manifest: the fields it names
    over today's ``FusionConfig`` defaults, the build's ``label_weight``/``label_prior``
    standing in for fields it does not name. Every edge that starts a build calls this,
    so a bundle keeps ranking the way it was built even after the code's defaults change."""
    given = {"label_weight": float(getattr(build_config, "label_weight", 0.0) or 0.0),
             "label_prior": getattr(build_config, "label_prior", None) or "grade+trl",
             **dict(build_config.fusion or {})}
    return replace(build_config, fusion=FusionConfig.from_dict(given).to_dict())


def recorded_fusion(bundle: Any) -> FusionConfig:
    """The fusion a bundle is served with unless a request overrides it: the one its
    manifest recorded at build time (``fusion``). Bundles from before the fusion was
    recorded get ``FusionConfig()`` with the label prior their build config named."""
    manifest = getattr(bundle, "manifest", None)
    if isinstance(manifest, Mapping):  # stand-in bundles of tests: the manifest's JSON form
        data, config = manifest.get("fusion"), manifest.get("config") or {}
    else:
        data, config = getattr(manifest, "fusion", None), getattr(manifest, "config", None) or {}
    if data is None:
        if not config.get("label_weight"):
            return FusionConfig()
        return FusionConfig(label_weight=float(config["label_weight"]),
                            label_prior=str(config.get("label_prior") or "grade+trl"))
    try:
        return FusionConfig.from_dict(dict(data))
    except (ConfigError, TypeError) as exc:
        raise ConfigError(
            f"bundle {getattr(bundle, 'build_id', '?')} recorded a fusion this version "
            f"cannot use ({exc}); rebuild it with `patmatch build`",
            details={"fusion": dict(data)}) from exc
