"""Transfer reports: five types, every format, archive replace, empty periods, offline HTML."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from api.reports import transfer_render
from api.reports.transfer_archive import (list_archived_reports, open_archived_report,
                                          reports_this_year)
from api.reports.transfers import REPORT_TYPES, build, load_inputs
from patmatch.errors import InputError, NotFoundError
from patmatch.settings import Settings
from tests.transfer_sample import write_sample


@pytest.fixture()
def loaded(settings: Settings, tmp_path: Path) -> Settings:
    from api.cli import app

    res = CliRunner().invoke(app, ["ingest", "transfers", str(write_sample(tmp_path / "t.csv"))])
    assert res.exit_code == 0, res.output
    return settings


def test_every_type_builds_and_renders(loaded: Settings, tmp_path: Path) -> None:
    inputs = load_inputs(loaded)
    for t in REPORT_TYPES:
        doc = build(inputs, t, "2025", region="江苏省" if t == "flow" else None)
        assert not doc["empty"] and doc["totals"]["conversions"] >= 1, t
        for fmt in transfer_render.FORMATS:
            p = transfer_render.write(doc, fmt, tmp_path / f"{t}.{fmt}")
            assert p.stat().st_size > 0, (t, fmt)
    doc = build(inputs, "annual", "2025", region="江苏省")
    assert doc["growth"]["rate"] == 1.0 and doc["flows"]["summary"]["流入"]["count"] == 2
    md = transfer_render.render_markdown(doc)
    assert "# 江苏省2025年年度专利转化统计分析报告" in md and "| 转化事件（件） | 4 | 2 | 100.0% |" in md
    html = transfer_render.render_html(doc)
    low = html.lower()
    for banned in ("<script src", "<link", "cdn.", "assets.pyecharts.org", "jsdelivr", "unpkg"):
        assert banned not in low, banned
    assert _only_license_urls(html) and html.count("echarts.init(") >= 6
    sheets = pl.read_excel(tmp_path / "annual.xlsx", sheet_id=0)
    assert "2-月度趋势" in sheets


def _only_license_urls(html: str) -> bool:
    """http(s) inside the inlined library (its licence and namespace strings) is not a fetch:
    no src=/href= may point anywhere."""
    import re

    return not re.search(r"""(?:src|href)\s*=\s*["']?https?://""", html)


def test_xlsx_has_native_charts(loaded: Settings, tmp_path: Path) -> None:
    import zipfile

    doc = build(load_inputs(loaded), "annual", "2025")
    p = transfer_render.write(doc, "xlsx", tmp_path / "r.xlsx")
    names = zipfile.ZipFile(p).namelist()
    assert sum(n.startswith("xl/charts/chart") for n in names) >= 3


def test_png_font_resolves_to_cjk() -> None:
    from matplotlib import font_manager as fm

    from api.reports.transfer_charts import cjk_font

    name = cjk_font()
    path = fm.findfont(fm.FontProperties(family=name), fallback_to_default=False)
    assert "CJK" in path or "cjk" in path.lower()
    from matplotlib.ft2font import FT2Font

    assert FT2Font(path).get_char_index(ord("转")) != 0  # the glyph exists, not a box


def test_empty_period_says_so(loaded: Settings, tmp_path: Path) -> None:
    doc = build(load_inputs(loaded), "quarterly", "2030Q1")
    assert doc["empty"] and "无专利转化事件记录" in doc["message"]
    html = transfer_render.render_html(doc)
    assert "id='empty-notice'" in html
    for fmt in transfer_render.FORMATS:
        assert transfer_render.write(doc, fmt, tmp_path / f"e.{fmt}").stat().st_size > 0


def test_bad_inputs(loaded: Settings) -> None:
    inputs = load_inputs(loaded)
    with pytest.raises(InputError, match="report type"):
        build(inputs, "weekly")
    with pytest.raises(InputError, match="needs --region|需要 --region"):
        build(inputs, "flow", "2025")
    with pytest.raises(InputError, match="not a province"):
        build(inputs, "annual", "2025", region="火星")
    with pytest.raises(InputError, match="is not a year"):
        build(inputs, "annual", "2025-13")
    with pytest.raises(NotFoundError):
        open_archived_report(loaded, "../../etc/passwd")


def test_cli_archive_replaces_same_report(loaded: Settings, tmp_path: Path) -> None:
    from api.cli import app

    r = CliRunner()
    out = tmp_path / "a.html"
    res = r.invoke(app, ["report", "--period", "2025", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "2025年年度专利转化统计分析报告" in res.output and out.stat().st_size > 100_000
    res = r.invoke(app, ["report", "--type", "年度", "--period", "2025", "--format", "md",
                         "--out", str(tmp_path / "a.md")])
    assert res.exit_code == 0, res.output
    res = r.invoke(app, ["report", "--type", "quarterly", "--period", "2025Q1", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["type"] == "quarterly"
    res = r.invoke(app, ["report", "--type", "flow", "--period", "2025", "--region", "常州市"])
    assert res.exit_code == 0, res.output
    listed = list_archived_reports(loaded)
    assert sorted(m.type for m in listed) == ["annual", "flow", "quarterly"]
    assert reports_this_year(loaded, int(listed[0].generated[:4])) == 3
    annual = next(m for m in listed if m.type == "annual")
    assert open_archived_report(loaded, annual.id, "png").stat().st_size > 10_000
    assert open_archived_report(loaded, annual.id, "html").suffix == ".html"
    bad = r.invoke(app, ["report", "--format", "pdf"])
    assert bad.exit_code != 0 and "--format must be one of" in bad.output
