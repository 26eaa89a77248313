from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from indexing.index.filters import Filters, mask_for
from patmatch.errors import InputError


@pytest.fixture()
def facets() -> pl.DataFrame:
    return pl.DataFrame({
        "id": ["a", "b", "c", "d"],
        "chains": [["nev", "ai"], ["pv"], [], ["ai"]],
        "ipc": [["H01M10/0525"], ["G06N 3/08"], [], ["h01m4/13"]],
        "applicant_type": ["university", "soe", None, "institute"],
        "region": ["广东省深圳市", "江苏省南京市", None, "广东省广州市"],
        "legal_valid": [True, True, False, True],
        "date": ["2015-01-01", "2020-06-30", None, "2023-12-31"],
        "open_license": [True, False, False, True],
        "grade": ["A", "B", None, "C"],
        "trl": [3, 7, None, 9],
        "confidential": [False, True, True, False],
        "owner": [None, "c1", "c2", None],
    }, schema_overrides={"chains": pl.List(pl.String), "ipc": pl.List(pl.String)})


def rows(facets: pl.DataFrame, f: Filters, side: str = "patents") -> list[str]:
    m = mask_for(facets, f, side=side)
    return facets["id"].to_list() if m is None else facets["id"].filter(pl.Series(m)).to_list()


def test_no_restriction_returns_none(facets: pl.DataFrame) -> None:
    assert mask_for(facets, Filters(valid_only=False)) is None
    assert Filters().is_empty and not Filters(chains=("ai",)).is_empty


def test_each_condition(facets: pl.DataFrame) -> None:
    assert rows(facets, Filters()) == ["a", "b", "d"]  # valid_only drops c
    assert rows(facets, Filters(chains=("ai",))) == ["a", "d"]
    assert rows(facets, Filters(chains=("pv", "nev"))) == ["a", "b"]
    assert rows(facets, Filters(ipc_prefix=("H01M",))) == ["a", "d"]
    assert rows(facets, Filters(ipc_prefix=("g06n3",))) == ["b"]
    assert rows(facets, Filters(applicant_types=("soe", "institute"))) == ["b", "d"]
    assert rows(facets, Filters(regions=("广东",))) == ["a", "d"]
    assert rows(facets, Filters(date_from="2016-01-01", date_to="2021-01-01")) == ["b"]
    assert rows(facets, Filters(open_license_only=True)) == ["a", "d"]
    assert rows(facets, Filters(grades=("A", "C"))) == ["a", "d"]
    assert rows(facets, Filters(min_trl=7)) == ["b", "d"]
    assert rows(facets, Filters(chains=("ai",), regions=("广东省广州市",))) == ["d"]


def test_confidential_visible_only_to_owner(facets: pl.DataFrame) -> None:
    f = Filters(valid_only=False, hide_confidential=True)
    assert rows(facets, f, "demands") == ["a", "d"]
    assert rows(facets, f.with_(viewer="c1"), "demands") == ["a", "b", "d"]
    assert rows(facets, Filters(valid_only=False, owners=("c2",)), "demands") == ["c"]


def test_missing_date_passes_only_for_demands(facets: pl.DataFrame) -> None:
    f = Filters(valid_only=False, date_from="2010-01-01")
    assert "c" not in rows(facets, f, "patents")
    assert "c" in rows(facets, f, "demands")


def test_filter_on_absent_facet_excludes_everything(facets: pl.DataFrame) -> None:
    m = mask_for(facets.drop("applicant_type"), Filters(applicant_types=("soe",)))
    assert m is not None and not m.any()


def test_normalisation_and_round_trip() -> None:
    f = Filters(chains="nev，ai", ipc_prefix=["h01m 10"], date_from="2020-01-05T00:00:00")
    assert f.chains == ("nev", "ai") and f.ipc_prefix == ("H01M10",)
    assert f.date_from == "2020-01-05"
    assert Filters.from_dict(f.to_dict()) == f
    assert hash(f) == hash(Filters.from_dict(f.to_dict()))


@pytest.mark.parametrize("bad", [
    {"applicant_types": ["alien"]}, {"date_from": "yesterday"}, {"grades": ["Z"]},
    {"min_trl": 12}, {"date_from": "2022-01-01", "date_to": "2021-01-01"}, {"colour": "red"},
])
def test_bad_filters_say_what_is_wrong(bad: dict) -> None:
    with pytest.raises(InputError) as e:
        Filters.from_dict(bad)
    assert e.value.message


def test_empty_facets() -> None:
    empty = pl.DataFrame({"id": [], "chains": []},
                         schema={"id": pl.String, "chains": pl.List(pl.String)})
    m = mask_for(empty, Filters(chains=("ai",)))
    assert m is None or (isinstance(m, np.ndarray) and m.size == 0)

CH = ["nev", "ai", "pv"]
REG = ["广东省深圳市", "江苏省南京市", None]
row_st = st.fixed_dictionaries({
    "chains": st.lists(st.sampled_from(CH), max_size=2),
    "region": st.sampled_from(REG),
    "legal_valid": st.booleans(),
    "date": st.sampled_from(["2015-01-01", "2020-06-30", None]),
    "open_license": st.booleans(),
    "confidential": st.booleans(),
    "owner": st.sampled_from(["c1", "c2", None]),
})
filt_st = st.builds(
    Filters, chains=st.lists(st.sampled_from(CH), max_size=2).map(tuple),
    regions=st.lists(st.sampled_from(["广东", "江苏省南京市"]), max_size=1).map(tuple),
    valid_only=st.booleans(), date_from=st.sampled_from([None, "2016-01-01"]),
    open_license_only=st.booleans(), hide_confidential=st.booleans(),
    viewer=st.sampled_from([None, "c1"]))


def _expected(r: dict, f: Filters, side: str) -> bool:
    if f.chains and not set(r["chains"]) & set(f.chains):
        return False
    if f.regions and not (r["region"] and any(r["region"].startswith(x) for x in f.regions)):
        return False
    if f.valid_only and not r["legal_valid"]:
        return False
    if f.date_from and (r["date"] is None and side == "patents" or
                        r["date"] is not None and r["date"] < f.date_from):
        return False
    if f.open_license_only and not r["open_license"]:
        return False
    return not (f.hide_confidential and r["confidential"] and r["owner"] != f.viewer
                or f.hide_confidential and r["confidential"] and f.viewer is None)


@hsettings(max_examples=150, deadline=None)
@given(rows_=st.lists(row_st, min_size=1, max_size=12), f=filt_st,
       side=st.sampled_from(["patents", "demands"]))
def test_mask_matches_a_plain_python_reading(rows_: list[dict], f: Filters, side: str) -> None:
    df = pl.DataFrame(rows_, schema={"chains": pl.List(pl.String), "region": pl.String,
                                     "legal_valid": pl.Boolean, "date": pl.String,
                                     "open_license": pl.Boolean, "confidential": pl.Boolean,
                                     "owner": pl.String})
    m = mask_for(df, f, side=side)
    got = [True] * len(rows_) if m is None else m.tolist()
    assert got == [_expected(r, f, side) for r in rows_]
