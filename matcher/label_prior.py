"""A ranking prior from the labels: a patent's value grade (A/B/C) and maturity (TRL).

The fused relevance score of each candidate patent gets ``label_weight x prior`` added,
where ``prior`` in [0, 1] is read from the record's labels (``record_facts``):

- ``grade``: A 1.0, B 0.5, C 0.0;
- ``trl``: (TRL - 1) / 8, so TRL 1 -> 0 and TRL 9 -> 1;
- ``grade+trl``: the mean of whichever of the two is known.

A record with neither label known gets 0.5 (neutral: the middle of the scale, so an
unlabelled record is neither pushed up nor down against labelled ones on average).
The prior only reorders the fused candidates (it never adds a record retrieval did not
find), and only on the patent side: a demand has no grade.

The weight is ``FusionConfig.label_weight``; a bundle's default is recorded in its build
config (``BuildConfig.label_weight``, saved in the manifest). The default is chosen by a
measured rule (``python -m benchmarks.label_weight_study``, docs/matching.md): on by
default only if it loses nDCG@10 on no shared task and gains on the demand-like ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PRIORS: tuple[str, ...] = ("grade+trl", "grade", "trl")
GRADE_VALUE: dict[str, float] = {"A": 1.0, "B": 0.5, "C": 0.0}
NEUTRAL = 0.5


def record_prior(grade: Any, trl: Any, kind: str = "grade+trl") -> float:
    """The prior of one record from its grade and TRL (None = unknown)."""
    parts: list[float] = []
    if kind in ("grade+trl", "grade") and isinstance(grade, str) and grade.upper() in GRADE_VALUE:
        parts.append(GRADE_VALUE[grade.upper()])
    if kind in ("grade+trl", "trl") and isinstance(trl, int | float) and 1 <= trl <= 9:
        parts.append((float(trl) - 1.0) / 8.0)
    return sum(parts) / len(parts) if parts else NEUTRAL


def side_prior(side: Any, kind: str = "grade+trl") -> np.ndarray | None:
    """One prior per row of ``side`` (cached on the side); None for the demand side."""
    if getattr(side, "name", "patents") != "patents":
        return None
    cache = getattr(side, "_label_prior", None)
    if isinstance(cache, dict) and kind in cache:
        return cache[kind]
    from matcher.record_facts import side_facts

    facts = side_facts(side)
    prior = np.fromiter((record_prior(g, t, kind) for g, t in
                         zip(facts["grade"].to_list(), facts["trl"].to_list())),
                        dtype=np.float64, count=facts.height)
    try:
        cache = cache if isinstance(cache, dict) else {}
        cache[kind] = prior
        side._label_prior = cache  # noqa: SLF001 - a cache on the loaded side
    except AttributeError:
        pass
    return prior


def prior_depth(limit: int, fusion: Any) -> int:
    """How deep to fuse before the prior re-sorts: the fusion's ``depth`` when a weight is
    set (the interactive ranker fuses that deep, so a record just below the first ``limit``
    can rise into them in both paths alike), else ``limit``."""
    if float(getattr(fusion, "label_weight", 0.0) or 0.0) <= 0:
        return limit
    return max(limit, int(getattr(fusion, "depth", limit) or limit))


def apply_label_weight(fused: dict[str, np.ndarray], side: Any, fusion: Any, *,
                       limit: int | None = None) -> dict[str, np.ndarray]:
    """``fused`` (``fuse_arrays`` output, rows best first) re-scored with the label prior
    and re-sorted; unchanged when the weight is 0 or the side has no prior. The sort is
    stable, so candidates with equal new scores keep the fusion's order (and tie-break).
    ``limit`` keeps the first columns after the re-sort (fuse ``prior_depth`` deep first)."""
    cut = (lambda d: d) if limit is None else (lambda d: {k: v[:, :limit] for k, v in d.items()})
    weight = float(getattr(fusion, "label_weight", 0.0) or 0.0)
    if weight <= 0:
        return cut(fused)
    prior = side_prior(side, getattr(fusion, "label_prior", "grade+trl"))
    rows = fused["rows"]
    if prior is None or rows.size == 0:
        return cut(fused)
    valid = rows >= 0
    bonus = np.where(valid, weight * prior[np.where(valid, rows, 0)], 0.0)
    score = np.where(valid, fused["score"] + bonus, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")
    out = {k: np.take_along_axis(v, order, axis=1) for k, v in fused.items()}
    out["score"] = np.where(np.take_along_axis(valid, order, axis=1),
                            np.take_along_axis(score, order, axis=1), np.nan)
    return cut(out)


__all__ = ["GRADE_VALUE", "NEUTRAL", "PRIORS", "apply_label_weight", "prior_depth", "record_prior", "side_prior"]
