"""Signing a test client in to the web console (shared by the UI test files)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
XSS = "<script>alert(1)</script>"


def login(client: TestClient, key: str, next_: str = "/ui/match") -> None:
    form = client.get("/ui/login")
    token = CSRF.search(form.text).group(1)
    r = client.post("/ui/login", data={"key": key, "csrf": token, "next": next_},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == next_


def csrf_of(client: TestClient, path: str = "/ui/match") -> str:
    return CSRF.search(client.get(path).text).group(1)
