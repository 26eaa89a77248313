"""The web console's pages through the app's test client: CSRF, scoping,
masking, escaping, Chinese errors, garbage input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from indexing.records import DemandRecord, PatentRecord

from api.main import create_app
from tests.api.conftest import DEMANDS, PATENTS
from tests.api.fakes import FakeEngine
from tests.api.ui_client import CSRF, XSS, csrf_of, login


# --- pages -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/ui/match", "/ui/match?q=电池包热管理温差", "/ui/match?demand=D-A-PUB", "/ui/demands",
    "/ui/demands/D-A-PUB", "/ui/demands/new", "/ui/demands/D-A-PUB/edit",
    "/ui/patents/P-NEV-2", "/ui/chains", "/ui/chains/nev", "/ui/chains/新能源汽车及汽车核心零部件",
    "/ui/ops", "/ui/ops/confirm?action=publish", "/ui/subscriptions", "/ui/reports"])
def test_every_page_renders_for_an_operator(ui, path: str) -> None:
    r = ui("operator").get(path)
    assert r.status_code == 200, r.text
    assert '<html lang="zh-CN">' in r.text and "运维" in r.text


def test_match_page_highlights_and_links(ui) -> None:
    r = ui("operator").get("/ui/match?q=电池包热管理，降低温差&chain=nev")
    assert r.status_code == 200
    assert "<mark>" in r.text and "P-NEV-2" in r.text
    assert "新能源汽车及汽车核心零部件" in r.text  # chain badge in Chinese
    assert "<meter" in r.text  # lexical / semantic bars
    assert "某研究院（科研院所）" in r.text
    assert ui("operator").get("/ui/match?q=电池&grade=A").status_code == 200
    assert ui("operator").get("/ui/match?q=电池&grade=Z").status_code == 400


def test_patent_page_shows_labels(ui) -> None:
    r = ui("centre_a").get("/ui/patents/P-NEV-1")
    assert r.status_code == 200
    for words in ("技术问题", "技术手段", "功能效果", "技术成熟度（TRL）", "价值等级", "许可条件"):
        assert words in r.text
    assert "尚未启用" not in r.text


def test_match_page_garbage_input_in_chinese(ui) -> None:
    c = ui("operator")
    for path, words in [("/ui/match?q=x&page=abc", "页码须为整数"),
                        ("/ui/match?q=x&page=0", "页码不能小于 1"),
                        ("/ui/match?q=" + "a" * 20_001, "需求文本不能超过"),
                        ("/ui/match?q=x&atype=alien", "输入有误"),
                        ("/ui/match?q=x&chain=no_such_chain", "未找到"),
                        ("/ui/match?demand=D-NOPE", "未找到")]:
        r = c.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert words in r.text, (path, r.text[-400:])
        assert "{" not in r.text.split("<main", 1)[1].split("</main>")[0], path  # no JSON


def test_unknown_console_path_is_a_chinese_404(ui) -> None:
    r = ui("centre_a").get("/ui/does/not/exist")
    assert r.status_code == 404 and "页面不存在" in r.text and "需求匹配" in r.text


# --- scoping and masking (the API's functions) -------------------------------------------
def test_centre_never_sees_another_centres_confidential_demand(ui) -> None:
    c = ui("centre_b")
    for path in ("/ui/demands/D-A-CONF", "/ui/demands/D-A-CONF/edit",
                 "/ui/match?demand=D-A-CONF"):
        r = c.get(path)
        assert r.status_code == 404 and "未找到该记录，或您无权查看" in r.text, path
        assert "电池包温差过大" not in r.text
    assert "D-A-CONF" not in c.get("/ui/demands").text
    listed = c.get("/ui/demands?scope=all").text
    assert "D-A-CONF" not in listed and "D-B-NEVPUB" in listed and "D-B-CONF" in listed
    assert c.get("/ui/demands?scope=everything").status_code == 400
    assert "D-A-CONF" not in c.get("/ui/match").text  # not in the picker
    assert "D-A-CONF" not in c.get("/ui/patents/P-NEV-2").text  # not in the reverse list
    assert c.get("/ui/chains/nev").status_code == 404  # not its chain


def test_contacts_masked_for_other_centres(ui) -> None:
    c = ui("centre_a")
    other = c.get("/ui/demands/D-B-NEVPUB").text
    assert "13812345678" not in other and "已脱敏" in other
    own = c.get("/ui/demands/D-A-PUB").text
    assert "13812345678" in own


def test_ops_is_for_operators_only(ui) -> None:
    for role in ("centre_a", "analyst", "broker"):
        r = ui(role).get("/ui/ops")
        assert r.status_code == 403 and "无权" in r.text
        assert 'href="/ui/ops"' not in r.text  # not in the navigation either


def test_ops_publish_and_rollback_need_confirmation_and_token(ui, engine) -> None:
    c = ui("operator")
    assert c.post("/ui/ops/rollback", data={"confirm": "yes"}).status_code == 403
    token = csrf_of(c, "/ui/ops")
    assert c.post("/ui/ops/rollback", data={"csrf": token}).status_code == 400
    r = c.post("/ui/ops/rollback", data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 409 and "没有可回滚" in r.text
    r = c.post("/ui/ops/publish", data={"csrf": token, "confirm": "yes", "build": "build-002"},
               follow_redirects=False)
    assert r.status_code == 303 and "build-002" in r.headers["location"]
    assert "发布完成" in c.get(r.headers["location"]).text
    engine.gate_refuses.add("build-003")
    r = c.post("/ui/ops/publish", data={"csrf": token, "confirm": "yes", "build": "build-003"})
    assert r.status_code == 409 and "质量门槛" in r.text
    r = c.post("/ui/ops/publish", data={"csrf": token, "confirm": "yes", "build": "../x"})
    assert r.status_code == 400
    r = c.post("/ui/ops/rollback", data={"csrf": token, "confirm": "yes"},
               follow_redirects=False)
    assert r.status_code == 303 and "build-001" in r.headers["location"]


# --- demand forms -------------------------------------------------------------------------
def test_create_demand_needs_the_csrf_token(ui, engine) -> None:
    c = ui("centre_a")
    before = len(engine.demands)
    r = c.post("/ui/demands/new", data={"text": "需要一种电机冷却方案"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/ui/demands/new", data={"text": "需要一种电机冷却方案", "csrf": "0" * 64})
    assert r.status_code == 403
    assert len(engine.demands) == before


def test_create_and_edit_a_demand(ui, engine) -> None:
    c = ui("centre_a")
    token = csrf_of(c, "/ui/demands/new")
    r = c.post("/ui/demands/new", data={
        "csrf": token, "title": "电机冷却", "text": "电动汽车驱动电机温升过高，需要高效冷却方案",
        "required_trl": "6", "deadline": "2026-12-31", "contact_phone": "13900001111",
        "confidential": "true"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    demand_id = r.headers["location"].split("/ui/demands/")[1].split("?")[0]
    rec = engine.demands[demand_id]
    assert rec.owner == "cz-nev" and rec.chain == "nev" and rec.confidential
    assert rec.required_trl == 6
    page = c.get(r.headers["location"])
    assert "已保存" in page.text and "13900001111" in page.text
    r = c.post(f"/ui/demands/{demand_id}/edit", data={
        "csrf": token, "title": "电机冷却（更新）", "text": rec.text, "required_trl": "7"},
        follow_redirects=False)
    assert r.status_code == 303
    assert engine.demands[demand_id].title == "电机冷却（更新）"
    assert engine.demands[demand_id].required_trl == 7
    assert not engine.demands[demand_id].confidential  # the unticked box clears it


def test_demand_form_errors_are_chinese_and_keep_the_input(ui, engine) -> None:
    c = ui("centre_a")
    token = csrf_of(c, "/ui/demands/new")
    before = len(engine.demands)
    r = c.post("/ui/demands/new", data={"csrf": token, "title": "保留我", "text": "需要方案",
                                        "required_trl": "12", "deadline": "2026-13-40x",
                                        "cooperation_mode": "白送"})
    assert r.status_code == 400
    assert "要求的技术成熟度（TRL）不能大于 9" in r.text
    assert "截止日期格式不正确" in r.text and "合作方式须为以下之一" in r.text
    assert 'value="保留我"' in r.text
    r = c.post("/ui/demands/new", data={"csrf": token, "text": "", "required_trl": "abc"})
    assert r.status_code == 400 and "需求描述" in r.text and "须为整数" in r.text
    r = c.post("/ui/demands/new", data={"csrf": token, "text": "需要方案", "chain": "pv"})
    assert r.status_code == 400 and "不在您的中心负责的产业链内" in r.text
    assert len(engine.demands) == before


def test_other_centres_cannot_edit(ui, engine) -> None:
    c = ui("centre_a")
    assert c.get("/ui/demands/D-B-NEVPUB/edit").status_code == 403  # visible, not writable
    token = csrf_of(c)
    r = c.post("/ui/demands/D-B-NEVPUB/edit", data={"csrf": token, "text": "改掉"})
    assert r.status_code == 403
    assert engine.demands["D-B-NEVPUB"].text != "改掉"
    r = c.post("/ui/demands/D-B-CONF/edit", data={"csrf": token, "text": "改掉"})
    assert r.status_code == 404
    assert engine.demands["D-B-CONF"].text != "改掉"


# --- escaping -------------------------------------------------------------------------------
@pytest.fixture()
def xss_client(settings):
    patents = [p for p, _ in PATENTS] + [PatentRecord(
        "P-XSS", XSS, "本发明公开了一种电池包热管理脚本<img src=x onerror=alert(2)>。",
        applicant="<b>某大学</b>", region="江苏省")]
    chains = {p.id: c for p, c in PATENTS} | {"P-XSS": ("nev",)}
    demands = list(DEMANDS) + [DemandRecord("D-XSS", "电池包热管理需求", title=XSS,
                                            chain="nev", owner="cz-nev")]
    eng = FakeEngine(settings, patents, chains, demands)
    eng.publish_build("build-001")
    app = create_app(settings, engine=eng, reload_interval=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        key, _ = app.state.keys.create("op", "operator")
        login(c, key)
        yield c


def test_record_text_is_escaped_everywhere(xss_client: TestClient) -> None:
    for path in ("/ui/match?q=电池包热管理", "/ui/patents/P-XSS", "/ui/demands",
                 "/ui/demands/D-XSS", "/ui/patents/P-NEV-2"):
        r = xss_client.get(path)
        assert r.status_code == 200, path
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, path
        assert "<b>某大学" not in r.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in xss_client.get("/ui/patents/P-XSS").text



# --- outcome feedback (the subscriptions/feedback service) --------------------------------
def test_outcome_buttons_record_feedback_with_history(ui) -> None:
    c = ui("centre_a")
    token = csrf_of(c, "/ui/demands/D-A-CONF")
    assert c.post("/ui/demands/D-A-CONF/outcome",
                  data={"patent_id": "P-NEV-2", "status": "contacted"}).status_code == 403
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-2", "status": "contacted"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "已记录反馈：已联系" in page and "当前：已联系" in page
    history = page.split('id="fb"', 1)[1].split("</section>", 1)[0]
    assert "P-NEV-2" in history and "已联系" in history
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-2", "status": "rejected"})
    assert r.status_code == 400 and "请先选择原因" in r.text
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-2", "status": "deal", "deal_type": "许可",
        "amount": "30"}, follow_redirects=False)
    assert r.status_code == 303
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-2", "status": "contacted"})
    assert r.status_code == 409 and "已是最终结果" in r.text
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-3", "status": "deal", "amount": "很多"})
    assert r.status_code == 400 and "金额" in r.text


def test_other_centres_cannot_record_outcomes(ui) -> None:
    c = ui("centre_b")
    token = csrf_of(c)
    r = c.post("/ui/demands/D-A-CONF/outcome", data={
        "csrf": token, "patent_id": "P-NEV-2", "status": "contacted"})
    assert r.status_code == 404 and "未找到" in r.text


# --- subscriptions ----------------------------------------------------------------------------
def test_subscriptions_create_pause_resume_and_scoping(ui) -> None:
    c = ui("centre_a")
    token = csrf_of(c, "/ui/subscriptions")
    assert c.post("/ui/subscriptions/new", data={"text": "电机散热"}).status_code == 403
    r = c.post("/ui/subscriptions/new", data={"csrf": token, "top_n": "5"})
    assert r.status_code == 400 and "二选一" in r.text
    r = c.post("/ui/subscriptions/new", data={"csrf": token, "text": "电机散热", "top_n": "x"})
    assert r.status_code == 400 and "每次推送条数" in r.text
    r = c.post("/ui/subscriptions/new", data={"csrf": token, "channel": "email",
                                              "address": "not-an-address", "text": "电机散热"})
    assert r.status_code == 400 and "收件邮箱" in r.text
    r = c.post("/ui/subscriptions/new", data={
        "csrf": token, "name": "电机散热订阅", "text": "电机控制器散热", "chain": "nev",
        "top_n": "5", "schedule": "weekly", "channel": "file"}, follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    path = r.headers["location"].split("?")[0]
    page = c.get(r.headers["location"]).text
    assert "订阅已创建" in page and "每周" in page and "尚无推送" in page
    assert "电机散热订阅" in c.get("/ui/subscriptions").text
    assert c.post(path + "/pause", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert "已暂停" in c.get(path).text
    c.post(path + "/resume", data={"csrf": token})
    assert "生效中" in c.get(path).text
    other = ui("centre_b")
    assert other.get(path).status_code == 404
    assert "电机散热订阅" not in other.get("/ui/subscriptions").text
    r = other.post(path + "/pause", data={"csrf": csrf_of(other)})
    assert r.status_code == 404


# --- statistics reports ---------------------------------------------------------------------
def test_reports_list_open_with_charts_and_download(ui, settings) -> None:
    from api.reports.transfer_archive import generate

    _, meta = generate(settings, "annual", "2025")
    c = ui("analyst")
    listed = c.get("/ui/reports")
    assert listed.status_code == 200 and meta.title in listed.text
    html = c.get(f"/ui/reports/{meta.id}/html")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert html.headers["content-security-policy"].startswith("sandbox allow-scripts")
    xlsx = c.get(f"/ui/reports/{meta.id}/xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert c.get(f"/ui/reports/{meta.id}/exe").status_code == 400
    assert c.get("/ui/reports/transfer-annual-1999/html").status_code == 404
    centre = ui("centre_a")
    assert centre.get("/ui/reports").status_code == 403
    assert 'href="/ui/reports"' not in centre.get("/ui/match").text
