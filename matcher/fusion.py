"""Rank fusion as small pure functions.

Two shapes of the same math:

- list functions (``rrf``, ``linear``) over record ids, for clarity, tests and callers
  that already hold ranked lists;
- ``fuse_arrays`` over row arrays ``(Q, k0)``, vectorised across queries, used by both
  the interactive ranker (Q = 1) and the batch jobs (Q = thousands), so that a batch row
  and an interactive result are the same number computed by the same code.

Sources
- RRF: Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
  individual Rank Learning Methods", SIGIR 2009: score(d) = sum_i 1 / (k + rank_i(d)),
  rank from 1, k = 60. The constant ``k`` is distinct from the result count (as in
  pyserini's ``reciprocal_rank_fusion``).
- Weighted RRF: the same sum with a weight per list (Bruch, Gai & Ingber, "An Analysis of
  Fusion Functions for Hybrid Retrieval", ACM TOIS 2023, section 4).
- Linear combination after normalisation (CombSUM with weights): Fox & Shaw, "Combination
  of Multiple Searches", TREC-2 1994; min-max / z-score normalisation as compared by
  Lee, "Analyses of multiple evidence combination", SIGIR 1997, and Bruch et al. 2023
  (their "TM2C2" convex combination with min-max is our ``linear`` with ``minmax``).

Evidence strength (``bound``, linear min-max only): plain min-max maps every list's best
hit to 1.0, so a lexical list whose best hit shares only one vague word (技术) counts as
much as a list whose best hit matches the whole query. With a per-query ``bound`` the
lexical side is normalised as ``score / max(best, bound)`` (theoretical minimum 0, cf.
Bruch et al. 2023's TMM, with the maximum not below the bound): the ranker passes
``lexical_bound x`` what the query could score (``SparseIndex.term_max``: each query
term at its best weight in any document), so weak lexical evidence stays weak and the
dense side decides; a strong lexical match (best >= bound) is normalised as before.

Edge cases, decided once here:
- ties: equal fused scores are ordered, for ``linear``, by the secondary signals (found
  by more lists first, then the raw score of the last list, i.e. the cosine, then of the
  earlier lists; a missing score counts as -inf), then for every method by the best (smallest) component rank, then by
  first appearance (list order, then position), so the result is deterministic;
- empty lists contribute nothing; all lists empty gives an empty result;
- one-sided hits: a document missing from a list gets no RRF term from it; in
  ``linear`` it gets ``min(0, worst hit)`` for min-max and L2 (never better than a hit,
  even when a one-hit list normalises to 1.0) and ``worst hit - 1`` for z-score (one
  standard deviation below the worst hit);
- all-equal scores: min-max maps them to 1.0 (every hit is that list's best; pyserini's
  min-max divides by zero here), z-score maps them to 0.0, L2 divides by the norm (or
  gives 0.0 when the norm is 0).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal

import numpy as np

from patmatch.errors import InputError

Norm = Literal["minmax", "l2", "zscore"]
NORMS: tuple[str, ...] = ("minmax", "l2", "zscore")


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise InputError(f"expected {n} weights (one per list), got {len(w)}")
    if any(x < 0 or not np.isfinite(x) for x in w):
        raise InputError(f"weights must be finite and >= 0, got {w}")
    return w


def _order(scores: dict[Hashable, float], best_rank: dict[Hashable, int],
           seen: dict[Hashable, int],
           secondary: dict[Hashable, tuple[float, ...]] | None = None) -> list[tuple[Hashable, float]]:
    sec = secondary or {}
    keys = sorted(scores, key=lambda d: (-scores[d], sec.get(d, ()), best_rank[d], seen[d]))
    return [(d, scores[d]) for d in keys]


def rrf(ranked_lists: Sequence[Sequence[Hashable]], *, k: float = 60.0,
        weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """(Weighted) reciprocal rank fusion of ranked id lists, best first.

    ``k`` is the RRF constant (Cormack et al. 2009), not a cut-off. With ``weights``
    this is weighted RRF. A repeated id inside one list counts at its first position.
    """
    if k < 0:
        raise InputError(f"rrf constant k must be >= 0, got {k}")
    w = _weights(weights, len(ranked_lists))
    scores: dict[Hashable, float] = {}
    best: dict[Hashable, int] = {}
    seen: dict[Hashable, int] = {}
    for li, (lst, wi) in enumerate(zip(ranked_lists, w)):
        used: set[Hashable] = set()
        for pos, d in enumerate(lst):
            if d in used:
                continue
            used.add(d)
            rank = pos + 1
            scores[d] = scores.get(d, 0.0) + wi / (k + rank)
            best[d] = min(best.get(d, rank), rank)
            seen.setdefault(d, li * 1_000_000 + pos)
    return _order(scores, best, seen)


def normalize(scores: np.ndarray, norm: Norm, bound: np.ndarray | float | None = None) -> np.ndarray:
    """Normalise one list of scores (1-D) or each row of a matrix (2-D, NaN = absent).
    ``bound`` (min-max only; a scalar or one value per row): bounded min-max
    ``s / max(best, bound)`` (see module notes); a bound <= 0 leaves that row plain."""
    s = np.asarray(scores, dtype=np.float64)
    if norm not in NORMS:
        raise InputError(f"norm must be one of {NORMS}, got {norm!r}")
    if s.size == 0:
        return s.copy()
    two_d = s.ndim == 2
    m = s if two_d else s[None, :]
    valid = ~np.isnan(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        if norm == "minmax":
            lo = np.nanmin(np.where(valid, m, np.inf), axis=1, keepdims=True)
            hi = np.nanmax(np.where(valid, m, -np.inf), axis=1, keepdims=True)
            if bound is not None:
                b = np.broadcast_to(np.asarray(bound, dtype=np.float64).reshape(-1, 1), hi.shape)
                bounded = b > 0
                lo = np.where(bounded, 0.0, lo)
                hi = np.where(bounded, np.maximum(hi, b), hi)
            span = hi - lo
            out = np.where(span > 0, (m - lo) / np.where(span > 0, span, 1.0), 1.0)
        elif norm == "zscore":
            cnt = valid.sum(axis=1, keepdims=True)
            mean = np.where(valid, m, 0.0).sum(axis=1, keepdims=True) / np.maximum(cnt, 1)
            var = np.where(valid, (m - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / np.maximum(cnt, 1)
            std = np.sqrt(var)
            out = np.where(std > 1e-12, (m - mean) / np.where(std > 1e-12, std, 1.0), 0.0)
        else:
            nrm = np.sqrt((np.where(valid, m, 0.0) ** 2).sum(axis=1, keepdims=True))
            out = np.where(nrm > 0, m / np.where(nrm > 0, nrm, 1.0), 0.0)
    out = np.where(valid, out, np.nan)
    return out if two_d else out[0]


def missing_value(worst: float, norm: str) -> float:
    """Normalised value for a document a list did not retrieve (see module notes)."""
    return worst - 1.0 if norm == "zscore" else min(0.0, worst)


def linear(score_lists: Sequence[Mapping[Hashable, float] | Sequence[tuple[Hashable, float]]],
           *, norm: Norm = "minmax", weights: Sequence[float] | None = None,
           bounds: Sequence[float | None] | None = None) -> list[tuple[Hashable, float]]:
    """Weighted sum of per-list normalised scores (CombSUM), best first.

    Each list is a mapping ``id -> raw score`` or a sequence of ``(id, score)`` pairs
    (first occurrence wins). A document missing from a list gets that list's lowest
    normalised value. ``bounds``: one bounded-min-max bound per list (None = plain).
    """
    w = _weights(weights, len(score_lists))
    lists: list[dict[Hashable, float]] = []
    for sl in score_lists:
        d: dict[Hashable, float] = {}
        items = sl.items() if isinstance(sl, Mapping) else sl
        for rid, sc in items:
            if rid not in d:
                if not np.isfinite(sc):
                    raise InputError(f"scores must be finite, got {sc!r} for {rid!r}")
                d[rid] = float(sc)
        lists.append(d)
    total: dict[Hashable, float] = {}
    best: dict[Hashable, int] = {}
    seen: dict[Hashable, int] = {}
    for li, d in enumerate(lists):
        order = sorted(d, key=lambda x: -d[x])  # stable: equal scores keep input order
        for pos, rid in enumerate(order):
            best[rid] = min(best.get(rid, pos + 1), pos + 1)
        for pos, rid in enumerate(d):
            seen.setdefault(rid, li * 1_000_000 + pos)
    bnd = list(bounds) if bounds is not None else [None] * len(lists)
    if len(bnd) != len(lists):
        raise ValueError(f"expected {len(lists)} bounds (one per list), got {len(bnd)}")
    for d, wi, bi in zip(lists, w, bnd):
        if not d:
            continue
        ids = list(d)
        normed = normalize(np.array([d[i] for i in ids]), norm, bi)
        floor = missing_value(float(normed.min()), norm)
        got = dict(zip(ids, normed.tolist()))
        for rid in seen:
            total[rid] = total.get(rid, 0.0) + wi * got.get(rid, floor)
    # secondary signals: the raw scores, last list (the cosine) first, missing = -inf
    secondary = {rid: (-sum(rid in d for d in lists),
                       *(-d.get(rid, -np.inf) for d in reversed(lists))) for rid in total}
    return _order(total, best, seen, secondary)


def fuse_arrays(lex_rows: np.ndarray, lex_scores: np.ndarray,
                dense_rows: np.ndarray, dense_scores: np.ndarray, *,
                method: str = "weighted_rrf", weights: Sequence[float] = (1.0, 1.0),
                rrf_k: float = 60.0, norm: Norm = "minmax", limit: int | None = None,
                lexical_bound: np.ndarray | float | None = None,
                _one: bool = True) -> dict[str, np.ndarray]:
    """Fuse per-query candidate arrays ``(Q, k0)`` (row -1 = no hit), vectorised.

    Returns arrays of shape ``(Q, m)`` sorted best first: ``rows`` (-1 padding),
    ``score``, ``lexical_part`` (the lexical side's term of ``score``; the rest is the
    semantic side's), ``lexical_rank``/``semantic_rank`` (1-based, 0 = not retrieved by that
    side) and ``lexical_score``/``semantic_score`` (NaN when not retrieved).
    Same semantics and tie-break as ``rrf``/``linear``; ``rrf`` ignores weights.
    ``lexical_bound`` (linear min-max only): per-query bound of the lexical side's
    bounded min-max (one value, or one per query; <= 0 = plain min-max).
    """
    lex_rows = np.atleast_2d(np.asarray(lex_rows, dtype=np.int64))
    dense_rows = np.atleast_2d(np.asarray(dense_rows, dtype=np.int64))
    lex_scores = np.atleast_2d(np.asarray(lex_scores, dtype=np.float64))
    dense_scores = np.atleast_2d(np.asarray(dense_scores, dtype=np.float64))
    if (_one and lex_rows.shape[0] == 1 and dense_rows.shape[0] == 1
            and lex_rows.shape[1] > 0 and dense_rows.shape[1] > 0):
        return _fuse_one(lex_rows[0], lex_scores[0], dense_rows[0], dense_scores[0],
                         method=method, weights=weights, rrf_k=rrf_k, norm=norm, limit=limit,
                         bound=_bounds(lexical_bound, 1, method, norm))
    q = max(lex_rows.shape[0], dense_rows.shape[0])
    if lex_rows.shape[1] == 0:
        lex_rows, lex_scores = np.full((q, 0), -1, np.int64), np.zeros((q, 0))
    if dense_rows.shape[1] == 0:
        dense_rows, dense_scores = np.full((q, 0), -1, np.int64), np.zeros((q, 0))
    wl, wd = (1.0, 1.0) if method == "rrf" else _weights(weights, 2)
    k1, k2 = lex_rows.shape[1], dense_rows.shape[1]
    lvalid, dvalid = lex_rows >= 0, dense_rows >= 0
    lrank = np.where(lvalid, np.arange(1, k1 + 1)[None, :], 0)
    drank = np.where(dvalid, np.arange(1, k2 + 1)[None, :], 0)
    if method in ("rrf", "weighted_rrf"):
        lc = np.where(lvalid, wl / (rrf_k + lrank), 0.0)
        dc = np.where(dvalid, wd / (rrf_k + drank), 0.0)
        lfloor = dfloor = np.zeros((q, 1))
    elif method == "linear":
        lb = _bounds(lexical_bound, q, method, norm)
        ln = normalize(np.where(lvalid, lex_scores, np.nan), norm, lb) if k1 else np.zeros((q, 0))
        dn = normalize(np.where(dvalid, dense_scores, np.nan), norm) if k2 else np.zeros((q, 0))
        lfloor = _row_floor(ln, q, norm) * wl
        dfloor = _row_floor(dn, q, norm) * wd
        lc = np.where(lvalid, wl * np.nan_to_num(ln), 0.0)
        dc = np.where(dvalid, wd * np.nan_to_num(dn), 0.0)
    else:
        raise InputError(
            f"fusion method must be 'rrf', 'weighted_rrf' or 'linear', got {method!r}")
    rows = np.concatenate([lex_rows, dense_rows], axis=1)
    n = rows.shape[1]
    # per candidate: (lex contribution, dense contribution, lex rank, dense rank, raw scores)
    lcon = np.concatenate([lc, np.zeros((q, k2))], axis=1)
    dcon = np.concatenate([np.zeros((q, k1)), dc], axis=1)
    lr = np.concatenate([lrank, np.zeros((q, k2), np.int64)], axis=1)
    dr = np.concatenate([np.zeros((q, k1), np.int64), drank], axis=1)
    ls = np.concatenate([np.where(lvalid, lex_scores, np.nan), np.full((q, k2), np.nan)], axis=1)
    ds = np.concatenate([np.full((q, k1), np.nan), np.where(dvalid, dense_scores, np.nan)], axis=1)
    pos = np.broadcast_to(np.arange(n), (q, n))
    # group equal rows: sort by row id (stable keeps lexical copy first), merge neighbours;
    # each side lists a row at most once, so a row appears at most twice.
    order = np.argsort(np.where(rows >= 0, rows, np.iinfo(np.int64).max), axis=1, kind="stable")
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    rows, lcon, dcon, lr, dr, ls, ds, pos = map(take, (rows, lcon, dcon, lr, dr, ls, ds, pos))
    dup = np.zeros((q, n), bool)
    if n > 1:
        dup[:, 1:] = (rows[:, 1:] == rows[:, :-1]) & (rows[:, 1:] >= 0)
    src = np.nonzero(dup)
    first = (src[0], src[1] - 1)
    dcon[first] += dcon[src]
    dr[first] = dr[src]
    ds[first] = ds[src]
    keep = (rows >= 0) & ~dup
    in_l, in_d = lr > 0, dr > 0
    lpart = np.where(in_l, lcon, lfloor)
    fused = (lpart + np.where(in_d, dcon, dfloor))
    fused = np.where(keep, fused, -np.inf)
    best = np.where(in_l & in_d, np.minimum(lr, dr), np.where(in_l, lr, dr))
    best = np.where(keep, best, np.iinfo(np.int64).max)
    # position of first appearance: lexical list first, then dense (as in ``rrf``)
    first_seen = np.where(in_l, lr - 1, k1 + dr - 1)
    first_seen = np.where(keep, first_seen, np.iinfo(np.int64).max)
    sec_d, sec_l, sec_n = _secondary(ds, ls, in_l, in_d, method)
    idx = (np.lexsort((first_seen, best, sec_l, sec_d, sec_n, -fused), axis=1) if q
           else np.zeros((0, n), np.int64))
    m = int(keep.sum(axis=1).max()) if q and n else 0
    if limit is not None:
        m = min(m, limit)
    idx = idx[:, :m]
    t = lambda a: np.take_along_axis(a, idx, axis=1)  # noqa: E731
    out_rows = t(rows)
    ok = t(keep)
    return {
        "rows": np.where(ok, out_rows, -1),
        "score": np.where(ok, t(fused), np.nan),
        "lexical_part": np.where(ok, t(lpart), np.nan),
        "lexical_rank": np.where(ok, t(lr), 0),
        "semantic_rank": np.where(ok, t(dr), 0),
        "lexical_score": np.where(ok, t(ls), np.nan),
        "semantic_score": np.where(ok, t(ds), np.nan),
    }


def _bounds(bound: np.ndarray | float | None, q: int, method: str, norm: str) -> np.ndarray | None:
    if bound is None or method != "linear" or norm != "minmax":
        return None
    b = np.asarray(bound, dtype=np.float64).reshape(-1)
    if b.size == 1:
        b = np.full(q, float(b[0]))
    if b.size != q:
        raise ValueError(f"expected one lexical bound per query ({q}), got {b.size}")
    return b


def _secondary(ds: np.ndarray, ls: np.ndarray, in_l: np.ndarray, in_d: np.ndarray,
               method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort keys after the fused score (linear only; RRF scores are ranks, and its ties
    keep the rank rule): found by both sides first, then the higher raw cosine, then the
    higher raw BM25."""
    if method != "linear":
        z = np.zeros(ds.shape)
        return z, z, z
    return (-np.where(np.isnan(ds), -np.inf, ds), -np.where(np.isnan(ls), -np.inf, ls),
            -(in_l.astype(np.int64) + in_d.astype(np.int64)))


def _row_floor(normed: np.ndarray, q: int, norm: str) -> np.ndarray:
    """Per-row ``missing_value``; a row with no hits contributes 0 (as an empty list)."""
    if normed.size == 0:
        return np.zeros((q, 1))
    with np.errstate(all="ignore"):
        lo = np.where(np.isnan(normed), np.inf, normed).min(axis=1, keepdims=True)
    floor = lo - 1.0 if norm == "zscore" else np.minimum(lo, 0.0)
    return np.where(np.isfinite(lo), floor, 0.0)


def _fuse_one(lr: np.ndarray, ls: np.ndarray, dr: np.ndarray, ds: np.ndarray, *,
              method: str, weights: Sequence[float], rrf_k: float, norm: Norm,
              limit: int | None, bound: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``fuse_arrays`` for one query (the interactive path): the same arithmetic on the
    same values in the same order, so the same floats, in ~a third of the numpy calls
    (the general path pays for padding, sorting by row id and merging neighbours). Kept
    identical to it by a randomised test (tests/matcher/test_fusion.py)."""
    k1 = len(lr)
    wl, wd = (1.0, 1.0) if method == "rrf" else _weights(weights, 2)
    lvalid, dvalid = lr >= 0, dr >= 0
    if method in ("rrf", "weighted_rrf"):
        lc = wl / (rrf_k + np.arange(1, k1 + 1))
        dc = wd / (rrf_k + np.arange(1, len(dr) + 1))
        lfloor = dfloor = 0.0
    elif method == "linear":
        ln = normalize(np.where(lvalid, ls, np.nan)[None, :], norm, bound)
        dn = normalize(np.where(dvalid, ds, np.nan)[None, :], norm)
        lfloor = float(_row_floor(ln, 1, norm)[0, 0]) * wl
        dfloor = float(_row_floor(dn, 1, norm)[0, 0]) * wd
        lc, dc = wl * np.nan_to_num(ln[0]), wd * np.nan_to_num(dn[0])
    else:
        raise InputError(
            f"fusion method must be 'rrf', 'weighted_rrf' or 'linear', got {method!r}")
    li, di = np.flatnonzero(lvalid), np.flatnonzero(dvalid)
    lex_at = {int(r): i for r, i in zip(lr[li].tolist(), li.tolist())}
    both_l, both_d, only_d = [], [], []
    for r, j in zip(dr[di].tolist(), di.tolist()):
        i = lex_at.get(r)
        if i is None:
            only_d.append(j)
        else:
            both_l.append(i)
            both_d.append(j)
    n_l, n_d = len(li), len(only_d)
    od = np.asarray(only_d, dtype=np.int64)
    rows = np.concatenate([lr[li], dr[od]])
    lrank = np.concatenate([li + 1, np.zeros(n_d, np.int64)])
    drank = np.zeros(n_l + n_d, np.int64)
    lcon = np.concatenate([lc[li], np.zeros(n_d)])
    dcon = np.zeros(n_l + n_d)
    lsc = np.concatenate([ls[li], np.full(n_d, np.nan)])
    dsc = np.full(n_l + n_d, np.nan)
    if both_l:  # position of each shared row inside the lexical part
        pos = np.searchsorted(li, np.asarray(both_l, dtype=np.int64))
        bd = np.asarray(both_d, dtype=np.int64)
        drank[pos], dcon[pos], dsc[pos] = bd + 1, 0.0 + dc[bd], ds[bd]
    drank[n_l:], dcon[n_l:], dsc[n_l:] = od + 1, dc[od], ds[od]
    in_l, in_d = lrank > 0, drank > 0
    lpart = np.where(in_l, lcon, lfloor)
    fused = lpart + np.where(in_d, dcon, dfloor)
    best = np.where(in_l & in_d, np.minimum(lrank, drank), np.where(in_l, lrank, drank))
    first_seen = np.where(in_l, lrank - 1, k1 + drank - 1)
    sec_d, sec_l, sec_n = _secondary(dsc, lsc, in_l, in_d, method)
    idx = np.lexsort((first_seen, best, sec_l, sec_d, sec_n, -fused))
    if limit is not None:
        idx = idx[:limit]
    return {"rows": rows[idx][None, :], "score": fused[idx][None, :],
            "lexical_part": (lpart + 0.0)[idx][None, :],
            "lexical_rank": lrank[idx][None, :], "semantic_rank": drank[idx][None, :],
            "lexical_score": lsc[idx][None, :], "semantic_score": dsc[idx][None, :]}
