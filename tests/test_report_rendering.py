"""The HTML report opened in headless Chromium (Debian's chromium): every chart drew."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.reports import transfer_render
from api.reports.transfers import build, load_inputs
from patmatch.settings import Settings
from tests.transfer_sample import write_sample

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

# pixels that are neither transparent nor white, per chart canvas
COUNT_INK = """() => [...document.querySelectorAll('.chart')].map(div => {
  const c = div.querySelector('canvas');
  if (!c) return [div.id, 0];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0 && (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245)) n++;
  }
  return [div.id, n];
})"""


def render_in_chromium(html_path: Path, screenshot: Path | None = None) -> dict[str, int]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_path.as_uri())
            page.wait_for_function("window.__charts && window.__charts.length > 0")
            ink = dict(page.evaluate(COUNT_INK))
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=False)
            assert [u for u in requests if not u.startswith("file:")] == [], requests
        finally:
            browser.close()
    return ink


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (apt chromium)")
def test_html_report_charts_draw_in_chromium(settings: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    res = CliRunner().invoke(app, ["ingest", "transfers", str(write_sample(tmp_path / "t.csv"))])
    assert res.exit_code == 0, res.output
    doc = build(load_inputs(settings), "annual", "2025", region="江苏省")
    page = transfer_render.write(doc, "html", tmp_path / "r.html")
    ink = render_in_chromium(page)
    expected = {"chart-trend", "chart-history", "chart-types", "chart-institutions",
                "chart-sankey", "chart-chains", "chart-flows"}
    assert set(ink) == expected
    blank = [k for k, n in ink.items() if n < 500]
    assert not blank, ink
