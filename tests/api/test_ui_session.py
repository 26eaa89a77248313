"""The web console's sign-in and sessions: cookies, throttling, redirects, expiry."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.ui.session import SESSION_COOKIE, SessionManager
from tests.api.ui_client import CSRF, csrf_of


# --- sign-in, session ------------------------------------------------------------------
def test_root_redirects_and_pages_need_a_session(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    r = client.get("/ui/match?q=电池", follow_redirects=False)
    assert r.status_code == 303
    target = parse_qs(urlsplit(r.headers["location"]).query)["next"][0]
    assert target == "/ui/match?q=%E7%94%B5%E6%B1%A0"  # back to the same link after sign-in
    page = client.get("/ui/login")
    assert page.status_code == 200 and "API 密钥" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_login_sets_a_strict_httponly_expiring_cookie(client: TestClient,
                                                      keys: dict[str, str]) -> None:
    token = CSRF.search(client.get("/ui/login").text).group(1)
    r = client.post("/ui/login", data={"key": keys["centre_a"], "csrf": token,
                                       "next": "/ui/demands"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/demands"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert keys["centre_a"] not in cookie  # the cookie names the key by its digest only
    page = client.get("/ui/demands")
    assert page.status_code == 200 and "需求列表" in page.text and "centre_a" in page.text
    assert "D-A-CONF" in page.text and "D-B-NEVPUB" not in page.text  # own demands first
    assert "D-B-NEVPUB" in client.get("/ui/demands?scope=all").text  # public, its chain


def test_login_refuses_bad_keys_and_missing_tokens_in_chinese(client: TestClient) -> None:
    token = CSRF.search(client.get("/ui/login").text).group(1)
    r = client.post("/ui/login", data={"key": "pm_nope_nope", "csrf": token})
    assert r.status_code == 401 and "API 密钥无效或已被吊销" in r.text
    token = CSRF.search(r.text).group(1)
    assert client.post("/ui/login", data={"key": "", "csrf": token}).status_code == 400
    client.cookies.clear()
    r = client.post("/ui/login", data={"key": "pm_x_y", "csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_login_failures_are_throttled_like_the_api(client: TestClient,
                                                   keys: dict[str, str]) -> None:
    statuses = []
    for _ in range(25):
        token = CSRF.search(client.get("/ui/login").text).group(1)
        statuses.append(client.post("/ui/login", data={"key": "pm_bad_guess",
                                                       "csrf": token}).status_code)
    assert statuses[0] == 401 and statuses[-1] == 429
    token = CSRF.search(client.get("/ui/login").text).group(1)
    r = client.post("/ui/login", data={"key": keys["operator"], "csrf": token})
    assert r.status_code == 429 and "失败次数过多" in r.text  # even a good key must wait


def test_open_redirects_are_refused(client: TestClient, keys: dict[str, str]) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/v1/admin/keys"):
        token = CSRF.search(client.get("/ui/login").text).group(1)
        r = client.post("/ui/login", data={"key": keys["operator"], "csrf": token,
                                           "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/ui/match"
        client.cookies.clear()


def test_revoked_key_ends_its_sessions(ui, app, keys: dict[str, str]) -> None:
    c = ui("centre_a")
    assert c.get("/ui/demands").status_code == 200
    key_id = keys["centre_a"].split("_")[1]
    app.state.keys.revoke(key_id)
    r = c.get("/ui/demands", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_signout_needs_the_token_and_clears_the_cookie(ui) -> None:
    c = ui("operator")
    assert c.post("/ui/logout", data={}).status_code == 403
    r = c.post("/ui/logout", data={"csrf": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303 and 'pm_session=""' in r.headers["set-cookie"]


def test_sessions_expire_and_forgeries_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    mgr = SessionManager(b"k" * 32, max_age_seconds=60)
    cookie, session = mgr.issue("ab" * 32)
    assert mgr.read(cookie) == session
    assert mgr.read(cookie[:-2] + "xx") is None and mgr.read("garbage") is None
    assert mgr.read("x" * 5000) is None and mgr.read(None) is None
    assert SessionManager(b"j" * 32, max_age_seconds=60).read(cookie) is None
    later = time.time() + 61
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert mgr.read(cookie) is None


def test_garbage_cookie_redirects_to_login(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "not-a-session", path="/ui")
    r = client.get("/ui/demands", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
