"""GET/POST /v1/reports: list, generate (replacing the same type+period), download."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import hdr
from tests.transfer_sample import write_sample


def _ingest(settings, tmp_path: Path) -> None:  # noqa: ANN001
    from indexing.intake.transfers import ingest_transfers
    from indexing.store.tables_transfers import open_transfers

    ingest_transfers([write_sample(tmp_path / "t.csv")], open_transfers(settings))


def test_generate_list_download(client, keys, settings, tmp_path: Path) -> None:  # noqa: ANN001
    _ingest(settings, tmp_path)
    h = hdr(keys["analyst"])
    r = client.post("/v1/reports", json={"type": "年度", "period": "2025"}, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert rid == "transfer-annual-2025" and r.json()["title"] == "全国2025年年度专利转化统计分析报告"
    assert client.post("/v1/reports", json={"type": "annual", "period": "2025"},
                       headers=hdr(keys["operator"])).status_code == 201
    r = client.post("/v1/reports", json={"type": "flow", "period": "2025", "region": "常州市"},
                    headers=h)
    assert r.status_code == 201, r.text
    listed = client.get("/v1/reports", headers=h).json()
    assert listed["total"] == 2  # the annual one was replaced, not added
    for fmt, head in (("html", b"<!DOCTYPE html>"), ("png", b"\x89PNG"), ("xlsx", b"PK"),
                      ("json", b"{"), ("md", "# 全国".encode())):
        d = client.get(f"/v1/reports/{rid}/download", params={"format": fmt}, headers=h)
        assert d.status_code == 200 and d.content.startswith(head), (fmt, d.status_code)
    assert client.get(f"/v1/reports/{rid}", headers=h).json()["period"] == "2025年"


def test_bad_requests_and_roles(client, keys, settings, tmp_path: Path) -> None:  # noqa: ANN001
    _ingest(settings, tmp_path)
    h = hdr(keys["operator"])
    r = client.post("/v1/reports", json={"type": "weekly"}, headers=h)
    assert r.status_code == 400 and "report type" in r.json()["message"]
    r = client.post("/v1/reports", json={"type": "flow", "period": "2025"}, headers=h)
    assert r.status_code == 400
    r = client.post("/v1/reports", json={"period": "2025-13"}, headers=h)
    assert r.status_code == 400
    assert client.get("/v1/reports/transfer-annual-1999", headers=h).status_code == 404
    assert client.get("/v1/reports/..%2F..%2Fetc", headers=h).status_code in (404, 422)
    r = client.get("/v1/reports/transfer-annual-1999/download", params={"format": "exe"},
                   headers=h)
    assert r.status_code == 422
    for name in ("centre_a", "broker"):
        r = client.post("/v1/reports", json={"period": "2025"}, headers=hdr(keys[name]))
        assert r.status_code == 403
