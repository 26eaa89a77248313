"""Fusion invariants (Hypothesis) and known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.config import FusionConfig
from matcher.fusion import fuse_arrays, linear, normalize, rrf
from patmatch.errors import ConfigError, InputError

ids = st.lists(st.integers(0, 30), unique=True, max_size=12)
scored = st.lists(st.tuples(st.integers(0, 30), st.floats(-5, 5, allow_nan=False)),
                  max_size=12, unique_by=lambda x: x[0])
weight = st.floats(0.0, 5.0, allow_nan=False)


def test_rrf_known_answer() -> None:
    out = rrf([["a", "b", "c"], ["c", "d"]], k=60)
    assert [d for d, _ in out] == ["c", "a", "b", "d"]
    assert out[0][1] == pytest.approx(1 / 63 + 1 / 61)
    # b (rank 2 in list 1) and d (rank 2 in list 2) tie: first appearance wins
    assert out[2][1] == out[3][1]


def test_empty_and_one_sided() -> None:
    assert rrf([]) == [] and rrf([[], []]) == []
    assert [d for d, _ in rrf([[], ["x", "y"]])] == ["x", "y"]
    assert linear([{}, {}]) == []
    assert [d for d, _ in linear([{}, {"x": 1.0, "y": 3.0}])] == ["y", "x"]


def test_all_equal_scores_do_not_divide_by_zero() -> None:
    for norm in ("minmax", "l2", "zscore"):
        out = linear([{"a": 2.0, "b": 2.0}, {"b": 1.0}], norm=norm)
        assert all(np.isfinite(s) for _, s in out)
        assert out[0][0] == "b"  # b is in both lists
    assert normalize(np.array([3.0, 3.0]), "minmax").tolist() == [1.0, 1.0]
    assert normalize(np.array([3.0, 3.0]), "zscore").tolist() == [0.0, 0.0]


@given(ids, ids, weight, weight)
def test_rrf_sorted_deterministic_and_complete(a: list[int], b: list[int], wa: float, wb: float) -> None:
    out = rrf([a, b], weights=[wa, wb])
    assert out == rrf([a, b], weights=[wa, wb])
    assert {d for d, _ in out} == set(a) | set(b)
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)


@given(ids, ids, weight)
def test_rrf_monotone_in_weight(a: list[int], b: list[int], w: float) -> None:
    """Raising a list's weight never lowers the fused score of its documents relative to
    documents absent from it: a document only in list A cannot fall below one only in B."""
    lo = dict(rrf([a, b], weights=[w, 1.0]))
    hi = dict(rrf([a, b], weights=[w + 1.0, 1.0]))
    for d in a:
        assert hi[d] >= lo[d]
    for d in set(b) - set(a):
        assert hi[d] == lo[d]


@given(st.lists(st.integers(0, 30), unique=True, min_size=1, max_size=10))
def test_single_list_order_is_kept(a: list[int]) -> None:
    assert [d for d, _ in rrf([a])] == a
    assert [d for d, _ in rrf([a, []], weights=[2.0, 1.0])] == a


@given(scored, scored, weight, weight, st.sampled_from(["minmax", "l2", "zscore"]))
def test_linear_sorted_finite_deterministic(a: list, b: list, wa: float, wb: float, norm: str) -> None:
    out = linear([a, b], norm=norm, weights=[wa, wb])
    assert out == linear([a, b], norm=norm, weights=[wa, wb])
    assert {d for d, _ in out} == {d for d, _ in a} | {d for d, _ in b}
    s = [x for _, x in out]
    assert all(np.isfinite(s)) and s == sorted(s, reverse=True)


def _ranked(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    pairs = sorted(pairs, key=lambda x: (-x[1], x[0]))
    return (np.array([[d for d, _ in pairs]], dtype=np.int64).reshape(1, -1),
            np.array([[s for _, s in pairs]], dtype=np.float64).reshape(1, -1))


@settings(max_examples=150)
@given(scored, scored, weight, weight, st.sampled_from(["rrf", "weighted_rrf", "linear"]),
       st.sampled_from(["minmax", "l2", "zscore"]))
def test_array_fusion_equals_list_fusion(a: list, b: list, wa: float, wb: float,
                                         method: str, norm: str) -> None:
    """The vectorised kernel (ranker and batch) and the list functions agree exactly,
    including tie order."""
    lr, ls = _ranked(a)
    dr, ds = _ranked(b)
    got = fuse_arrays(lr, ls, dr, ds, method=method, weights=(wa, wb), norm=norm)
    rows = [int(r) for r in got["rows"][0] if r >= 0]
    if method == "linear":
        ref = linear([list(zip(lr[0].tolist(), ls[0].tolist())),
                      list(zip(dr[0].tolist(), ds[0].tolist()))], norm=norm, weights=[wa, wb])
    else:
        ref = rrf([lr[0].tolist(), dr[0].tolist()], weights=None if method == "rrf" else [wa, wb])
    assert rows == [d for d, _ in ref]
    np.testing.assert_allclose(got["score"][0][: len(rows)], [s for _, s in ref], rtol=1e-9, atol=1e-12)


def test_array_fusion_ranks_and_padding() -> None:
    got = fuse_arrays([[5, 7, -1]], [[3.0, 1.0, np.nan]], [[7, 9, -1]], [[0.9, 0.8, np.nan]],
                      method="rrf")
    rows = got["rows"][0].tolist()
    assert rows[0] == 7 and set(rows) == {5, 7, 9}
    i7, i9 = rows.index(7), rows.index(9)
    assert got["lexical_rank"][0][i7] == 2 and got["semantic_rank"][0][i7] == 1
    assert got["lexical_rank"][0][i9] == 0 and np.isnan(got["lexical_score"][0][i9])


def test_fusion_config_validates_and_roundtrips() -> None:
    cfg = FusionConfig(method="linear", weights=(1, 2), norm="zscore")
    assert FusionConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError):
        FusionConfig(method="borda")
    with pytest.raises(ConfigError):
        FusionConfig(weights=(0, 0))
    with pytest.raises(ConfigError):
        FusionConfig.from_dict({"wieghts": [1, 1]})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_non_finite_weights_are_refused_from_the_one_hierarchy(bad: float) -> None:
    # the operator's configuration: a ConfigError, not a ValueError deep in the math
    with pytest.raises(ConfigError, match="finite"):
        FusionConfig(weights=(1.0, bad))
    # a request's override: the caller's input (4xx), naming the rejected value
    with pytest.raises(InputError, match="fusion override rejected") as info:
        FusionConfig().with_overrides({"weights": [bad, 1.0]})
    assert not isinstance(info.value, ConfigError)
    # the fusion functions themselves
    with pytest.raises(InputError, match="finite"):
        rrf([[1, 2], [2, 3]], weights=[1.0, bad])
    with pytest.raises(InputError, match="finite"):
        linear([[(1, 0.5)], [(1, 0.2)]], weights=[bad, 1.0])
    with pytest.raises(InputError, match="rrf constant"):
        rrf([[1]], k=-1)


def test_overrides_keep_the_base_and_raise_candidates_with_depth() -> None:
    base = FusionConfig(candidates=100, depth=200)
    cfg = base.with_overrides({"method": "rrf", "depth": 400, "norm": None})
    assert cfg.method == "rrf" and cfg.depth == 400 and cfg.candidates == 200
    assert cfg.norm == base.norm
    with pytest.raises(InputError, match="unknown fusion override"):
        base.with_overrides({"nope": 1})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), unique=True, min_size=1, max_size=15),
       st.lists(st.integers(0, 40), unique=True, min_size=1, max_size=15),
       st.integers(0, 15), st.integers(0, 15), st.booleans(),
       st.sampled_from(["rrf", "weighted_rrf", "linear"]),
       st.sampled_from(["minmax", "l2", "zscore"]), st.sampled_from([None, 1, 5, 100]),
       st.integers(0, 2**31 - 1))
def test_single_query_fast_path_is_bit_identical(a: list, b: list, cut_a: int, cut_b: int,
                                                  ties: bool, method: str, norm: str,
                                                  limit: int | None, seed: int) -> None:
    """The interactive (Q = 1) path and the general kernel return the same arrays: same
    rows, order, dtypes and the very same floats (padding, ties, one-sided hits)."""
    rng = np.random.default_rng(seed)
    lr, dr = np.array(a, np.int64), np.array(b, np.int64)
    ls = np.sort(rng.random(len(lr)) * 10)[::-1].astype(np.float32)
    ds = np.sort(rng.random(len(dr)))[::-1].astype(np.float32)
    if ties:
        ls[:] = ls[0]
    lr[min(cut_a, len(lr)):] = -1  # trailing padding, possibly a whole empty side
    dr[min(cut_b, len(dr)):] = -1
    ls[lr < 0], ds[dr < 0] = np.nan, np.nan
    kw = dict(method=method, weights=(1.0, 0.25), rrf_k=60.0, norm=norm, limit=limit)
    fast = fuse_arrays(lr[None], ls[None], dr[None], ds[None], **kw)
    ref = fuse_arrays(lr[None], ls[None], dr[None], ds[None], _one=False, **kw)
    assert fast.keys() == ref.keys()
    for k in ref:
        assert fast[k].shape == ref[k].shape and fast[k].dtype == ref[k].dtype, k
        np.testing.assert_array_equal(fast[k], ref[k], err_msg=k)


# --- evidence strength (issue 20) ------------------------------------------------------
def test_bounded_minmax_does_not_stretch_weak_lexical_evidence() -> None:
    """The 汽车噪音 case: the lexical list's best hit shares one vague word (score 1 of a
    possible 10); plain min-max stretches it to 1.0 and it beats a clearly better dense
    match; bounded against what the query could score, the dense match wins."""
    lr, ls = np.array([[7, 8]]), np.array([[1.0, 0.9]])
    dr, ds = np.array([[3, 7]]), np.array([[0.80, 0.40]])
    plain = fuse_arrays(lr, ls, dr, ds, method="linear", weights=(1.0, 0.5))
    assert plain["rows"][0][0] == 7
    bounded = fuse_arrays(lr, ls, dr, ds, method="linear", weights=(1.0, 0.5), lexical_bound=0.3 * 10.0)
    assert bounded["rows"][0][0] == 3
    # strong evidence (best >= bound): the lexical side is 0 .. best, its best hit is 1.0
    strong = fuse_arrays(lr, ls, dr, ds, method="linear", weights=(1.0, 0.5), lexical_bound=0.5)
    assert strong["rows"][0][0] == 7 and strong["score"][0][0] == pytest.approx(1.0 + 0.5 * 0.0)


def test_bounded_normalize_known_answer() -> None:
    s = np.array([[2.0, 1.0, np.nan], [4.0, 2.0, 1.0]])
    got = normalize(s, "minmax", np.array([8.0, 0.0]))
    np.testing.assert_allclose(got[0, :2], [0.25, 0.125])  # 0 .. max(2, 8)
    np.testing.assert_allclose(got[1], [1.0, 1 / 3, 0.0])  # bound 0: plain min-max
    assert np.isnan(got[0, 2])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), unique=True, min_size=1, max_size=15),
       st.lists(st.integers(0, 40), unique=True, min_size=1, max_size=15),
       st.floats(0.0, 20.0), st.booleans(), st.integers(0, 2**31 - 1))
def test_bounded_fast_path_equals_general_and_list(a: list, b: list, bound: float, ties: bool,
                                                   seed: int) -> None:
    """Bounded fusion: the single-query path, the general kernel and the list function
    agree (rows, order, floats), ties included."""
    rng = np.random.default_rng(seed)
    lr, dr = np.array(a, np.int64), np.array(b, np.int64)
    ls = np.sort(rng.random(len(lr)) * 10)[::-1].astype(np.float64)
    ds = np.sort(rng.random(len(dr)))[::-1].astype(np.float64)
    if ties:
        ls[:] = ls[0]
        ds[:] = ds[0]
    kw = dict(method="linear", weights=(1.0, 0.25), norm="minmax", lexical_bound=bound)
    fast = fuse_arrays(lr[None], ls[None], dr[None], ds[None], **kw)
    ref = fuse_arrays(lr[None], ls[None], dr[None], ds[None], _one=False, **kw)
    for k in ref:
        np.testing.assert_array_equal(fast[k], ref[k], err_msg=k)
    lst = linear([list(zip(lr.tolist(), ls.tolist())), list(zip(dr.tolist(), ds.tolist()))],
                 weights=[1.0, 0.25], bounds=[bound, None])
    assert [int(r) for r in ref["rows"][0] if r >= 0] == [d for d, _ in lst]


def test_equal_fused_scores_break_by_cosine_then_bm25() -> None:
    """Two records with the same fused score: the one with the higher cosine first (the
    secondary signal), not an arbitrary list position."""
    # row 1: lexical best only (1.0 + floor 0); row 2: dense best only (0 + 1.0), weights 1:1
    got = fuse_arrays([[1, 5]], [[3.0, 1.0]], [[2, 5]], [[0.9, 0.1]], method="linear",
                      weights=(1.0, 1.0))
    rows, score = got["rows"][0].tolist(), got["score"][0]
    assert score[rows.index(1)] == score[rows.index(2)]
    assert rows.index(2) < rows.index(1)


def test_fusion_config_lexical_bound_roundtrips_and_validates() -> None:
    cfg = FusionConfig(lexical_bound=0.4)
    assert cfg.bounded and FusionConfig.from_dict(cfg.to_dict()) == cfg
    assert FusionConfig.from_dict({"method": "linear"}).lexical_bound == FusionConfig().lexical_bound
    assert not FusionConfig(method="rrf", lexical_bound=0.4).bounded
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError):
            FusionConfig(lexical_bound=bad)
