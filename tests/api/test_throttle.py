"""Failed-auth throttling per client address: 429 + Retry-After; errors in OpenAPI."""

from __future__ import annotations

import pytest

from api.throttle import AuthThrottle, TooManyAuthFailuresError
from tests.api.conftest import hdr


def test_guessing_keys_ends_in_429_with_retry_after(client, keys):
    client.app.state.auth_throttle = AuthThrottle(limit=5, window=60)
    codes = [client.get("/v1/chains", headers=hdr(f"pm_guess_{i}")).status_code
             for i in range(8)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
    r = client.get("/v1/chains", headers=hdr(keys["analyst"]))
    assert r.status_code == 429  # blocked by address, whatever key it now sends
    assert 1 <= int(r.headers["Retry-After"]) <= 60 and r.json()["code"] == "auth.throttled"
    for garbage in ("", "x" * 5000, "\x7f;DROP", "Bearer"):
        assert client.get("/v1/chains", headers={"X-API-Key": garbage}).status_code in (401, 429)


def test_window_expires_and_success_clears():
    now = [0.0]
    t = AuthThrottle(limit=3, window=10, clock=lambda: now[0])
    for _ in range(3):
        t.check("a")
        t.failed("a")
    with pytest.raises(TooManyAuthFailuresError) as e:
        t.check("a")
    assert e.value.details["retry_after"] == 10
    t.check("b")  # other addresses are not affected
    now[0] = 10.5
    t.check("a")
    t.failed("a")
    t.succeeded("a")
    t.failed("a"), t.failed("a")
    t.check("a")


def test_every_route_documents_its_errors(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in ("/healthz", "/readyz", "/metrics") or not path.startswith("/v1"):
                continue
            if "401" in op["responses"] and "{token}" not in path:  # token links: no key
                assert "429" in op["responses"], (method, path)
    assert "400" in spec["paths"]["/v1/demands/{demand_id}/matches"]["get"]["responses"]
