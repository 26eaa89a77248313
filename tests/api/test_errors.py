"""One error shape for every error path, and the one status table."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from patmatch import errors as E

from api.errors import STATUS_OF, status_for
from api.main import MAX_JSON_BYTES, create_app
from tests.api.conftest import hdr, make_engine

SHAPE = {"code", "message", "details"}


def _shape(r, status, code=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == SHAPE, body
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_every_error_class_has_a_status():
    classes = [c for c in vars(E).values()
               if isinstance(c, type) and issubclass(c, E.PatmatchError)]
    for cls in classes:
        assert cls in STATUS_OF, f"{cls.__name__} missing from api/errors.py STATUS_OF"
    assert status_for(E.MissingColumnError("x")) == 400  # inherited from InputError
    assert status_for(E.NoBundleError("x")) == 503
    assert status_for(E.QualityGateError("x")) == 409


def test_auth_errors(client, keys):
    b = _shape(client.get("/v1/index"), 401, "auth.required")
    assert "X-API-Key" in b["message"]
    _shape(client.get("/v1/index", headers=hdr("nope")), 401, "auth.required")
    r = client.get("/v1/index", headers={"Authorization": f"Bearer {keys['broker']}"})
    assert r.status_code == 200  # bearer works like X-API-Key
    b = _shape(client.get("/v1/audit", headers=hdr(keys["broker"])), 403, "auth.forbidden")
    assert "broker" in b["message"] and "operator" in b["message"]


def test_unknown_route_method_and_record(client, keys):
    h = hdr(keys["operator"])
    b = _shape(client.get("/v1/nothing-here", headers=h), 404, "not_found")
    assert "/v1/nothing-here" in b["message"]
    _shape(client.put("/v1/match", headers=h), 405, "http.method_not_allowed")
    r = client.put("/v1/demands", headers=h)
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    b = _shape(client.get("/v1/patents/P-NONE", headers=h), 404, "not_found")
    assert "P-NONE" in b["message"]
    _shape(client.get("/v1/patents/P-NONE/demands", headers=h), 404, "not_found")
    _shape(client.get("/v1/jobs/job-nope", headers=h), 404, "not_found")


def test_validation_errors(client, keys):
    h = hdr(keys["operator"])
    b = _shape(client.post("/v1/match", json={"text": "x", "top_k": 0}, headers=h), 422,
               "input.validation")
    assert b["details"]["errors"][0]["loc"] == ["body", "top_k"]
    _shape(client.post("/v1/match", json={"txet": "typo"}, headers=h), 422, "input.validation")
    _shape(client.post("/v1/match", content=b"{not json", headers={**h, "content-type":
                                                                   "application/json"}), 422)
    _shape(client.get("/v1/demands", params={"limit": 100000}, headers=h), 422)
    b = _shape(client.get("/v1/demands?limit=1&limit=2", headers=h), 422)
    assert b["details"]["errors"][0]["loc"] == ["query", "limit"]
    r = client.get("/v1/demands/D-A-PUB/matches?chain=nev&chain=pv", headers=h)
    assert r.status_code == 200  # list parameters may repeat
    _shape(client.get("/v1/demands/" + "x" * 200, headers=h), 422)
    _shape(client.get("/v1/demands/需求 001", headers=h), 404)  # any printable id may exist
    b = _shape(client.post("/v1/match", json={}, headers=h), 400, "input.invalid")
    assert "exactly one" in b["message"]
    _shape(client.post("/v1/match", json={"text": "a", "demand_id": "D-A-PUB"}, headers=h), 400)
    _shape(client.post("/v1/demands", json={"text": "x", "chain": "no_such"}, headers=h), 400)


def test_body_too_large(client, keys):
    h = {**hdr(keys["operator"]), "content-type": "application/json"}
    big = b'{"text": "' + b"a" * (MAX_JSON_BYTES + 10) + b'"}'
    b = _shape(client.post("/v1/match", content=big, headers=h), 413, "input.too_large")
    assert b["details"]["limit"] == MAX_JSON_BYTES

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(20):
            yield b"a" * (MAX_JSON_BYTES // 10)

    _shape(client.post("/v1/match", content=chunks(), headers=h), 413, "input.too_large")


def test_no_bundle_is_503(settings):
    eng = make_engine(settings)
    eng.pointer.unlink()
    app = create_app(settings, engine=eng, reload_interval=0)
    with TestClient(app) as c:
        key, _ = app.state.keys.create("op", "operator")
        _shape(c.get("/readyz"), 503, "bundle.none")
        _shape(c.post("/v1/match", json={"text": "电池"}, headers=hdr(key)), 503, "bundle.none")
        assert c.get("/healthz").status_code == 200
        # demands still work without a bundle
        assert c.get("/v1/demands/D-A-PUB", headers=hdr(key)).status_code == 200


def test_unhandled_error_is_500_with_shape(settings):
    eng = make_engine(settings)
    app = create_app(settings, engine=eng, reload_interval=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        key, _ = app.state.keys.create("op", "operator")

        def boom(*a, **k):
            raise RuntimeError("secret internals")

        eng.current.ranker.match_text = boom
        b = _shape(c.post("/v1/match", json={"text": "电池"}, headers=hdr(key)), 500, "internal")
        assert "secret" not in b["message"] and b["details"]["incident"]


@pytest.mark.parametrize("exc,status", [(E.LockHeldError("busy"), 409),
                                        (E.BundleIntegrityError("bad"), 503),
                                        (E.DependencyError("gone"), 503)])
def test_engine_errors_map_through_the_table(settings, exc, status):
    eng = make_engine(settings)
    app = create_app(settings, engine=eng, reload_interval=0)
    with TestClient(app) as c:
        key, _ = app.state.keys.create("op", "operator")

        def fail(*a, **k):
            raise exc

        eng.rollback = fail
        _shape(c.post("/v1/admin/rollback", headers=hdr(key)), status, exc.code)


def test_openapi_documents_errors_and_examples(client):
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/match"]["post"]
    for s in ("401", "403", "404", "422", "503"):
        assert op["responses"][s]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorOut")
    text = str(doc)
    assert "锂电池" in text and "动力电池与新型储能" in text
    assert {"APIKeyHeader", "HTTPBearer"} <= set(doc["components"]["securitySchemes"])


def test_configuration_errors_are_the_operators_not_the_callers(client, keys, engine,
                                                                monkeypatch):
    assert not issubclass(E.ConfigError, E.InputError)
    assert status_for(E.ConfigError("x")) == 500

    def broken_taxonomy() -> list:
        raise E.ConfigError("taxonomy file /etc/patmatch/chains.yaml is not valid YAML")

    monkeypatch.setattr(engine, "chains", broken_taxonomy)
    b = _shape(client.get("/v1/chains", headers=hdr(keys["operator"])), 500, "config.invalid")
    assert "chains.yaml" in b["message"]


def test_non_finite_fusion_weights_are_refused_not_a_500(client, keys):
    h = {**hdr(keys["operator"]), "Content-Type": "application/json"}
    for bad in ("NaN", "Infinity", "-Infinity"):
        r = client.post("/v1/match", headers=h,
                        content='{"text": "电池", "fusion": {"weights": [%s, 1.0]}}' % bad)
        b = _shape(r, 422, "input.validation")
        assert "fusion" in b["message"] and "weights" in b["message"]


def test_cli_exits_with_the_configuration_code(home, tmp_path):
    from typer.testing import CliRunner

    from api.cli import app

    bad = tmp_path / "build.yaml"
    bad.write_text("- not\n- a mapping\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["build", "--config", str(bad)])
    assert r.exit_code == E.ConfigError.exit_code == 9, r.output
    assert "must be a mapping" in r.output
