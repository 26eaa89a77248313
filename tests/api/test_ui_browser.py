"""The web console in a real browser: headless Debian Chromium driven by Playwright,
against a uvicorn server on 127.0.0.1 started by the test (one browser per module)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexing.records import DemandRecord, PatentRecord
from patmatch.settings import Settings

from tests.api.conftest import DEMANDS, PATENTS
from tests.api.fakes import FakeEngine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
XSS = "<script>alert(1)</script>"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium not installed (.ci/system-packages.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import uvicorn

    from api.main import create_app

    home = tmp_path_factory.mktemp("ui-home")
    settings = Settings(home=home)
    patents = [p for p, _ in PATENTS] + [PatentRecord(
        "P-XSS", XSS, "本发明公开了一种电池包热管理的脚本方法。", applicant="某大学")]
    chains = {p.id: c for p, c in PATENTS} | {"P-XSS": ("nev",)}
    engine = FakeEngine(settings, patents, chains, list(DEMANDS))
    engine.publish_build("build-001")
    app = create_app(settings, engine=engine, reload_interval=0)
    keys = {"a": app.state.keys.create("常州新能源汽车中心", "centre", centre="cz-nev",
                                       chains=("nev",))[0],
            "b": app.state.keys.create("常州储能中心", "centre", centre="cz-bat",
                                       chains=("battery_storage",))[0]}
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "keys": keys, "engine": engine, "app": app}
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture()
def page_for(server: dict, browser) -> Iterator:
    contexts = []

    def open_as(who: str):
        ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.set_default_timeout(10_000)
        dialogs: list[str] = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.dialogs = dialogs  # type: ignore[attr-defined]
        pg.goto(server["base"] + "/")
        assert "/ui/login" in pg.url
        # keyboard only: the key field has focus, Enter submits
        pg.wait_for_selector("#key:focus")
        pg.keyboard.type(server["keys"][who])
        pg.keyboard.press("Enter")
        pg.wait_for_url("**/ui/match")
        return pg

    yield open_as
    for ctx in contexts:
        ctx.close()


def test_sign_in_search_and_see_highlighted_terms(page_for) -> None:
    pg = page_for("a")
    assert "常州新能源汽车中心" in pg.inner_text("header")
    pg.fill("#q", "电池包热管理，降低电池包温差")
    pg.click("button.primary")
    pg.wait_for_selector("ol.results li.result")
    assert "/ui/match?q=" in pg.url  # the result page is a link
    marks = pg.locator("ol.results mark")
    assert marks.count() > 0
    assert any(t in "电池包热管理降低温差一种" for t in marks.all_inner_texts())
    assert pg.locator("ol.results meter").count() >= 2
    assert "新能源汽车及汽车核心零部件" in pg.inner_text("ol.results")
    # the same search as a pasted link works too
    pg.goto(pg.url)
    assert pg.locator("ol.results li.result").count() > 0


def test_record_an_outcome_and_see_it_in_the_history(page_for, server: dict) -> None:
    pg = page_for("a")
    pg.goto(server["base"] + "/ui/demands/D-A-CONF")
    first = pg.locator("ol.results li.result").first
    patent = first.locator("h3 small").inner_text()
    first.get_by_role("button", name="洽谈中").click()
    pg.wait_for_selector("p.notice")
    assert "已记录反馈：洽谈中" in pg.inner_text("p.notice")
    history = pg.inner_text("#fb")
    assert patent in history and "洽谈中" in history
    assert "当前：洽谈中" in pg.locator("ol.results li.result").first.inner_text()


def test_centre_b_cannot_open_centre_a_confidential_demand(page_for, server: dict) -> None:
    pg = page_for("b")
    resp = pg.goto(server["base"] + "/ui/demands/D-A-CONF")
    assert resp is not None and resp.status == 404
    assert "未找到该记录，或您无权查看" in pg.inner_text("main")
    assert "电池包温差过大" not in pg.content()
    own = pg.goto(server["base"] + "/ui/demands/D-B-CONF")
    assert own is not None and own.status == 200


def test_a_script_title_renders_as_text(page_for, server: dict) -> None:
    pg = page_for("a")
    pg.goto(server["base"] + "/ui/patents/P-XSS")
    assert pg.inner_text("h1") == XSS
    pg.goto(server["base"] + "/ui/match?q=电池包热管理的脚本")
    assert pg.locator("a[href='/ui/patents/P-XSS']").first.inner_text() == XSS
    assert pg.locator("script").count() == 0
    assert pg.dialogs == []  # type: ignore[attr-defined]
