"""A request that cannot start ranking within its budget answers 503 + Retry-After."""

from __future__ import annotations


import pytest

from api.services import matching
from tests.api.conftest import hdr


def test_busy_ranking_slots_answer_503_with_retry_after(client, keys, engine, monkeypatch):
    monkeypatch.setattr(matching, "REQUEST_BUDGET_SECONDS", 0.2)
    held = 0
    while engine.ranking.acquire(blocking=False):  # every slot taken by "other requests"
        held += 1
    try:
        r = client.post("/v1/match", json={"text": "锂电池"}, headers=hdr(keys["analyst"]))
        assert r.status_code == 503 and r.json()["code"] == "service.busy"
        assert r.headers["Retry-After"] == "5"
    finally:
        for _ in range(held):
            engine.ranking.release()
    assert client.post("/v1/match", json={"text": "锂电池"},
                       headers=hdr(keys["analyst"])).status_code == 200


@pytest.mark.timeout(60)
def test_a_long_query_answers(client, keys):
    r = client.post("/v1/match", json={"text": "电池" * 10_000}, headers=hdr(keys["analyst"]))
    assert r.status_code == 200
    r = client.post("/v1/match", json={"text": "电池" * 10_001}, headers=hdr(keys["analyst"]))
    assert r.status_code == 422  # the documented per-field limit (20,000 characters)
