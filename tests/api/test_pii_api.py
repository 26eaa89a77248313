"""API writes go through the one validation path and mask personal data in free text;
no role reads a planted value back; the audit log stores masked query text (issue 13,
findings 2 and 4)."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import KEYS, hdr
from tests.matcher.test_pii_outputs import PLANTED, assert_clean, planted_text


def _post(client, keys, **extra):
    body = {"title": f"电池 {PLANTED['mobile']}", "text": planted_text(),
            "enterprise": f"某公司 {PLANTED['email']}", "budget": f"面议 身份证{PLANTED['id18']}",
            "contact_name": PLANTED["name"], "contact_phone": PLANTED["mobile"],
            "contact_email": PLANTED["email"], **extra}
    return client.post("/v1/demands", json=body, headers=hdr(keys["operator"]))


def test_posted_free_text_is_masked_for_every_role(client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    r = _post(client, keys, chain="nev", owner="cz-nev", id="D-PII-1")
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    for name in KEYS:
        got = client.get(f"/v1/demands/{did}", headers=hdr(keys[name]))
        if got.status_code == 404:
            continue
        body = got.json()
        shown = {k: v for k, v in body.items() if not k.startswith("contact_")}
        assert_clean(str(shown), f"GET as {name}")
        if body["contacts_masked"]:
            assert_clean(str(body), f"GET as {name} (masked contacts)")
        listed = client.get("/v1/demands", params={"limit": 100}, headers=hdr(keys[name]))
        if body["contacts_masked"]:
            assert_clean(listed.text, f"list as {name}")
    upd = client.patch(f"/v1/demands/{did}", json={"text": planted_text("改：")},
                       headers=hdr(keys["operator"]))
    assert upd.status_code == 200 and "锂电池" in upd.json()["text"]
    assert_clean(upd.json()["text"], "PATCH answer")
    r = client.post("/v1/match", json={"text": planted_text()}, headers=hdr(keys["analyst"]))
    assert r.status_code == 200
    audit = client.get("/v1/audit", params={"limit": 200}, headers=hdr(keys["operator"]))
    assert audit.status_code == 200 and "锂电池" in audit.text
    assert_clean(audit.text, "audit log")
    assert_clean(caplog.text, "logs")


@pytest.mark.parametrize("field,value", [
    ("deadline", "2021-02-30"), ("deadline", "9999-12-31"), ("deadline", "1899-12-30"),
    ("contact_phone", "abc<script>"), ("contact_email", "not-an-email"),
])
def test_api_writes_use_the_ingest_validation(client, keys, field, value):
    r = _post(client, keys, **{field: value})
    assert r.status_code == 422, r.text
    assert r.json()["details"].get("field") == field
    ok = _post(client, keys, id="D-PII-OK").json()["id"]
    r = client.patch(f"/v1/demands/{ok}", json={field: value}, headers=hdr(keys["operator"]))
    assert r.status_code == 422 and r.json()["details"].get("field") == field


def test_html_is_stripped_by_the_one_rule(client, keys):
    r = _post(client, keys, title="<b>电池</b>散热", text="<script>alert(1)</script>需要散热方案<p>改进</p>",
              enterprise="<i>常州</i>某公司")
    assert r.status_code == 201, r.text
    body = r.json()
    assert "<" not in body["text"] + body["title"] + body["enterprise"]
    assert "需要散热方案" in body["text"] and "alert" not in body["text"]


@pytest.mark.parametrize("weights", [["NaN", 1], [float("inf"), 1], [-1, 1], [1e309, 1]])
def test_non_finite_fusion_weights_are_422_not_500(client, keys, weights):
    import json

    raw = json.dumps({"text": "锂电池", "fusion": {"weights": weights}}).replace('"NaN"', "NaN")
    r = client.post("/v1/match", content=raw, headers={**hdr(keys["analyst"]),
                                                        "content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
