"""Fusion configuration: frozen, validated, serialisable (saved with every run/export).

The defaults are the measured choice documented in ``docs/matching.md`` (rerun with
``python -m benchmarks.fusion_study``, which applies the rule and prints the choice):
a linear combination of min-max normalised BM25 and cosine with weights 1 : 0.25.
With the distilled default encoder it does not lose to the best single retriever on any
shared task (within 0.1%) and beats BM25 on the paraphrased demands by 13% nDCG@10
(0.619 vs 0.548), where equal-weight RRF loses 18% MRR@10 to BM25 on the keyphrase task.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from patmatch.errors import ConfigError
from patmatch.config import checked_fields

Method = Literal["weighted_rrf", "rrf", "linear"]
METHODS: tuple[str, ...] = ("weighted_rrf", "rrf", "linear")
NORMS: tuple[str, ...] = ("minmax", "l2", "zscore")


@dataclass(frozen=True)
class FusionConfig:
    """How the lexical and semantic lists become one list.

    ``weights`` = (lexical, semantic). ``candidates`` (k0) is how deep each retriever
    goes before fusion; ``depth`` is how deep the fused list is materialised for
    pagination: offset + limit beyond ``depth`` is refused, so page N never depends on
    what a deeper request would have fetched (stable pagination).
    """

    method: Method = "linear"
    weights: tuple[float, float] = (1.0, 0.25)
    rrf_k: float = 60.0
    norm: Literal["minmax", "l2", "zscore"] = "minmax"
    candidates: int = 200
    depth: int = 200

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"fusion method must be one of {METHODS}, got {self.method!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"fusion norm must be one of {NORMS}, got {self.norm!r}")
        w = tuple(float(x) for x in self.weights)
        if len(w) != 2 or any(x < 0 for x in w) or sum(w) <= 0:
            raise ConfigError(
                f"fusion weights must be two numbers >= 0 (lexical, semantic) with a positive "
                f"sum, got {self.weights!r}")
        object.__setattr__(self, "weights", w)
        if self.rrf_k < 0:
            raise ConfigError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.candidates < 1 or self.depth < 1:
            raise ConfigError(
                f"candidates and depth must be >= 1, got {self.candidates} and {self.depth}")
        if self.depth > 2 * self.candidates:
            raise ConfigError(
                f"depth {self.depth} cannot exceed 2 x candidates ({2 * self.candidates}): "
                "the fused list holds at most that many records")

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


DEFAULT_FUSION = FusionConfig()
