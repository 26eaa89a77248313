"""The label prior (grade / TRL as a ranking feature): its values, its config fields (fusion
and build, recorded with the bundle), and that the interactive ranker and the batch
kernels apply it identically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from indexing.build.build_config import LABEL_PRIORS, BuildConfig
from matcher.config import FusionConfig
from matcher.label_prior import NEUTRAL, PRIORS, apply_label_weight, record_prior, side_prior
from matcher.ranker import HybridRanker, recorded_fusion
from patmatch.errors import ConfigError, InputError


def test_record_prior_values() -> None:
    assert record_prior("A", 9) == 1.0 and record_prior("C", 1) == 0.0
    assert record_prior("B", None) == 0.5 and record_prior(None, 5) == 0.5
    assert record_prior("A", 1, "grade") == 1.0 and record_prior("A", 1, "trl") == 0.0
    assert record_prior(None, None) == NEUTRAL
    # garbage labels are unknown, not errors
    assert record_prior("Z", 42) == NEUTRAL and record_prior(3, "x") == NEUTRAL
    assert record_prior("a", float("nan")) == 1.0


def test_config_fields_validate_and_round_trip() -> None:
    cfg = FusionConfig(label_weight=0.05, label_prior="grade")
    assert FusionConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["label_weight"] == 0.05
    for bad in ({"label_weight": -0.1}, {"label_weight": 2}, {"label_weight": float("nan")},
                {"label_weight": "x"}, {"label_prior": "stars"}):
        with pytest.raises(ConfigError):
            FusionConfig(**bad)
    with pytest.raises(InputError):
        FusionConfig().with_overrides({"label_weight": 5})
    assert FusionConfig().label_weight == 0.0  # the measured default: off


def test_build_config_records_the_weight() -> None:
    assert LABEL_PRIORS == PRIORS
    d = BuildConfig(label_weight=0.1, label_prior="trl").to_dict()
    assert d["label_weight"] == 0.1 and d["label_prior"] == "trl"
    assert BuildConfig.from_dict(d).label_weight == 0.1
    with pytest.raises(ConfigError):
        BuildConfig(label_weight=-1)
    with pytest.raises(ConfigError):
        BuildConfig(label_prior="nope")
    bundle = type("B", (), {"manifest": {"config": d}})()
    assert recorded_fusion(bundle) == FusionConfig(label_weight=0.1, label_prior="trl")
    assert recorded_fusion(type("B", (), {"manifest": {}})()) == FusionConfig()


def _fused(rows: list[int], scores: list[float]) -> dict[str, np.ndarray]:
    r = np.array([rows], dtype=np.int64)
    s = np.array([scores], dtype=np.float64)
    return {"rows": r, "score": s, "lexical_part": s / 2, "lexical_rank": r + 1,
            "semantic_rank": r + 1, "lexical_score": s, "semantic_score": s}


class _Side:
    """A patent side with a fixed prior, delegating everything else to a real side."""

    def __init__(self, inner: Any, prior: np.ndarray) -> None:
        self._inner = inner
        self.name = getattr(inner, "name", "patents")
        self._label_prior = {k: prior for k in PRIORS}

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)


def test_apply_reorders_and_keeps_arrays_aligned() -> None:
    side = _Side(None, np.array([0.0, 0.0, 1.0, 0.5]))
    side.name = "patents"
    fused = _fused([0, 1, 2, -1], [0.9, 0.85, 0.8, np.nan])
    same = apply_label_weight(fused, side, FusionConfig())
    assert same is fused
    out = apply_label_weight(fused, side, FusionConfig(label_weight=0.2))
    assert out["rows"].tolist() == [[2, 0, 1, -1]]
    assert np.allclose(out["score"][0, :3], [1.0, 0.9, 0.85]) and np.isnan(out["score"][0, 3])
    assert out["lexical_rank"].tolist() == [[3, 1, 2, 0]]  # moved with its row
    # a small weight keeps the relevance order; equal totals keep the fusion's order
    assert apply_label_weight(fused, side, FusionConfig(label_weight=0.01))["rows"].tolist() == [[0, 1, 2, -1]]
    # the demand side has no prior: unchanged
    dem = _Side(None, np.ones(4))
    dem.name = "demands"
    dem._label_prior = {}
    assert apply_label_weight(fused, dem, FusionConfig(label_weight=0.5)) is fused
    empty = {k: v[:, :0] for k, v in fused.items()}
    assert apply_label_weight(empty, side, FusionConfig(label_weight=0.5))["rows"].shape == (1, 0)


def test_side_prior_reads_the_labels(tiny_bundle: Any) -> None:
    prior = side_prior(tiny_bundle.patents)
    assert prior.shape == (len(tiny_bundle.patents.ids),)
    assert np.all(prior == NEUTRAL)  # the tiny bundle carries no grade/TRL
    assert side_prior(tiny_bundle.demands) is None


def test_ranker_and_batch_apply_the_same_prior(tiny_bundle: Any, tokenizer: Any,
                                               tiny_encoder: Any) -> None:
    """One favoured record with a large weight: both paths move it to the top and keep
    the rest of their own plain order."""
    from indexing.index.filters import Filters
    from matcher.evaluate import run_queries

    q = "锂电池低温放电"
    plain_cfg = FusionConfig(candidates=20, depth=30)
    base = HybridRanker(tiny_bundle, tokenizer, tiny_encoder, plain_cfg)
    plain = [m.record_id for m in base.match_text(q, limit=10, explain=False).items]
    plain_batch = run_queries(base, {"q": q}, k=10, fusion=plain_cfg,
                              filters=Filters(valid_only=False))["q"]
    fav_id = plain[4]
    assert fav_id in plain_batch
    prior = np.zeros(len(tiny_bundle.patents.ids))
    prior[tiny_bundle.patents.ids.index(fav_id)] = 1.0
    bundle = type(tiny_bundle)(_Side(tiny_bundle.patents, prior), tiny_bundle.demands, tiny_bundle.path)
    cfg = FusionConfig(candidates=20, depth=30, label_weight=1.0)
    ranker = HybridRanker(bundle, tokenizer, tiny_encoder, cfg)
    ml = ranker.match_text(q, limit=10, explain=False)
    got = [m.record_id for m in ml.items]
    assert got == [fav_id] + [x for x in plain if x != fav_id]
    assert ml.fusion["label_weight"] == 1.0 and ml.items[0].score >= 1.0
    batch = run_queries(ranker, {"q": q}, k=10, fusion=cfg, filters=Filters(valid_only=False))["q"]
    assert batch == [fav_id] + [x for x in plain_batch if x != fav_id]


def test_batch_without_fusion_uses_the_bundle_recorded_prior(tiny_bundle: Any, tokenizer: Any,
                                                             tiny_encoder: Any, tmp_path: Any) -> None:
    """A bundle built with a label weight: ``patmatch match`` (run_batch, no fusion given)
    ranks with the recorded fusion, as /v1/match (HybridRanker, no config) does. Two past
    gaps: the batch path fell back to FusionConfig() (no prior at all), and it applied the
    prior to its top-k only while the ranker re-sorts ``depth`` fused candidates."""
    import polars as pl

    from matcher.batch import run_batch
    from matcher.queries import Queries

    q = "锂电池低温放电"
    cfg = FusionConfig(candidates=20, depth=30)
    plain = [m.record_id for m in HybridRanker(tiny_bundle, tokenizer, tiny_encoder, cfg)
             .match_text(q, limit=10, explain=False).items]
    fav_id = plain[4]
    prior = np.zeros(len(tiny_bundle.patents.ids))
    prior[tiny_bundle.patents.ids.index(fav_id)] = 1.0
    bundle = type(tiny_bundle)(_Side(tiny_bundle.patents, prior), tiny_bundle.demands, tiny_bundle.path)
    bundle.manifest = {"build_id": "b", "fusion": FusionConfig(candidates=20, depth=30,
                                                               label_weight=1.0).to_dict()}
    interactive = [m.record_id for m in HybridRanker(bundle, tokenizer, tiny_encoder)
                   .match_text(q, limit=10, explain=False).items]
    assert interactive[0] == fav_id != plain[0]  # the recorded prior is in play
    for k in (10, 3):  # top 3: the favoured record (plain 5th) must rise from below the cut
        out = tmp_path / f"m{k}.parquet"
        run_batch(bundle, tokenizer, tiny_encoder, Queries(["q"], [q], [""], [[]], None),
                  out=out, top_k=k, progress=False)
        assert pl.read_parquet(out).sort("rank")["patent_id"].to_list() == interactive[:k]
