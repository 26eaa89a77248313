"""Normalisation: width, whitespace, HTML, IPC, dates, applicant types, small vocabularies."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from indexing.intake import normalize as nz
from patmatch.errors import RecordValidationError


def test_full_width_ascii_to_half_but_chinese_punctuation_kept() -> None:
    assert nz.to_half_width("ＡＢＣ１２３％") == "ABC123%"
    assert nz.clean_text("锂电池，容量：（高）　ＯＫ") == "锂电池，容量：（高） OK"


def test_clean_text_whitespace_and_blank() -> None:
    assert nz.clean_text("  a \t\u00a0 b \r\n\r\n  c  ") == "a b\nc"
    assert nz.clean_text("a\nb", keep_newlines=False) == "a b"
    assert nz.clean_text("   ") is None
    assert nz.clean_text(None) is None


@given(st.text())
def test_clean_text_is_idempotent(s: str) -> None:
    once = nz.clean_text(s)
    assert nz.clean_text(once) == once


def test_strip_html_keeps_text_drops_script_and_style() -> None:
    raw = "<p>本发明&amp;公开</p><script>alert('x')</script><style>p{}</style><b>一种</b>电池"
    out = nz.strip_html(raw)
    assert "alert" not in out and "<" not in out and "p{}" not in out
    assert "本发明&公开" in out and "一种" in out and "电池" in out
    assert nz.has_html(raw) and not nz.has_html("a < b 且 c > d")
    assert nz.strip_html("纯文本 a<b") == "纯文本 a<b"


@pytest.mark.parametrize("raw, expected", [
    ("H01M 10/0525", "H01M10/0525"),
    ("h01m10/0525", "H01M10/0525"),
    ("H01M0010/0525", "H01M10/0525"),
    ("H01M 10 / 0525 (2010.01)", "H01M10/0525"),
    ("Ｈ０１Ｌ３１／１８", "H01L31/18"),
    ("B25J9/16", "B25J9/16"),
    ("G06F2203/04806", "G06F2203/04806"),
    ("H02S", "H02S"),
    ("H02J3", "H02J3/00"),
    ("B61F5/5", "B61F5/50"),
])
def test_ipc_canonical_form(raw: str, expected: str) -> None:
    assert nz.normalize_ipc(raw) == expected


@pytest.mark.parametrize("bad", ["H01M-10/05X", "XYZ123", "1234/56", "H0IM10/0525", "Z01M10/00", ""])
def test_malformed_ipc_is_rejected_with_expected_shape(bad: str) -> None:
    with pytest.raises(RecordValidationError) as exc:
        nz.normalize_ipc(bad)
    assert "H01M10/0525" in exc.value.message and exc.value.details["field"] == "ipc"


@given(st.sampled_from("ABCDEFGH"), st.integers(1, 99), st.sampled_from("ABCMNZ"),
       st.integers(1, 9999), st.integers(0, 999999))
def test_ipc_canonical_is_a_fixed_point(sec: str, cls: int, sub: str, grp: int, sg: int) -> None:
    code = nz.normalize_ipc(f"{sec}{cls:02d} {sub} {grp}/{sg:02d}")
    assert nz.normalize_ipc(code) == code and " " not in code


def test_parse_ipc_list_forms() -> None:
    assert nz.parse_ipc_list('["G06F16/3329", "G06F16/35"]') == ("G06F16/3329", "G06F16/35")
    assert nz.parse_ipc_list("H01M 10/0525; H01M 4/587，H01M10/0525") == ("H01M10/0525", "H01M4/587")
    assert nz.parse_ipc_list(["B60L15/20", None]) == ("B60L15/20",)
    assert nz.parse_ipc_list(None) == () and nz.parse_ipc_list("") == ()
    with pytest.raises(RecordValidationError):
        nz.parse_ipc_list("H01M10/0525;garbage")


@pytest.mark.parametrize("raw, iso", [
    ("2021-03-05", "2021-03-05"), ("2021/3/5", "2021-03-05"), ("2021年3月5日", "2021-03-05"),
    ("20210305", "2021-03-05"), ("2021.03.05", "2021-03-05"), ("2021-03-05 00:00:00", "2021-03-05"),
    ("44260", "2021-03-05"), ("", None), (None, None),
])
def test_dates_to_iso(raw: str | None, iso: str | None) -> None:
    assert nz.normalize_date(raw) == iso


@pytest.mark.parametrize("bad", ["2021-13-01", "2021-02-30", "next week", "3/5/2021"])
def test_bad_dates_raise(bad: str) -> None:
    with pytest.raises(RecordValidationError) as exc:
        nz.normalize_date(bad, field="application_date")
    assert exc.value.details["field"] == "application_date" and "2021-03-05" in exc.value.message


@pytest.mark.parametrize("name, kind", [
    ("浙江大学", "university"),
    ("重庆电子工程职业学院", "university"),
    ("中国科学院大连化学物理研究所", "institute"),
    ("中国科学院大学", "university"),
    ("重庆材料研究院有限公司", "institute"),
    ("国网江苏省电力有限公司", "soe"),
    ("中车戚墅堰机车有限公司", "soe"),
    ("中国石油化工股份有限公司", "soe"),
    ("常州市城建投资集团有限公司", "soe"),
    ("歌尔股份有限公司", "enterprise"),
    ("含山县东山德雨球墨铸造厂", "enterprise"),
    ("彭鸿一", "individual"),
    ("航天资源循环科技有限公司;中国科学院过程工程研究所", "soe"),
    ("", None),
])
def test_infer_applicant_type(name: str, kind: str | None) -> None:
    assert nz.infer_applicant_type(name) == kind


def test_bool_and_choices() -> None:
    assert nz.parse_bool("是", field="x") and not nz.parse_bool("否", field="x")
    assert nz.parse_bool("TRUE", field="x") and not nz.parse_bool(None, field="x")
    with pytest.raises(RecordValidationError):
        nz.parse_bool("maybe", field="open_license")
    assert nz.normalize_choice("技术转让", nz.COOPERATION_ALIASES, field="c") == "转让"
    assert nz.normalize_choice("联合开发", nz.COOPERATION_ALIASES, field="c") == "合作开发"
    with pytest.raises(RecordValidationError) as exc:
        nz.normalize_choice("入股分红", nz.COOPERATION_ALIASES, field="cooperation_mode")
    assert "合作开发" in exc.value.message
    assert nz.split_names("李一;王二，张三") == ("李一", "王二", "张三")
    assert nz.normalize_legal_status("实审") == "实质审查"
