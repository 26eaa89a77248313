"""`patmatch keys create|list|revoke` and `patmatch serve --help` (CLI edge); the keys
live in the one database (both backends: ``db_settings``)."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app

from api.db import open_api_db
from api.security import KeyStore

runner = CliRunner()


def test_keys_lifecycle(db_settings):
    r = runner.invoke(app, ["keys", "create", "常州新能源汽车运营中心", "--role", "centre",
                            "--centre", "cz-nev", "--chain", "nev", "--chain", "battery_storage"])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[0]
    assert key.startswith("pm_")
    # the confirmation names the role and the chains in Chinese, the ids in parentheses
    assert ("运营中心「常州新能源汽车运营中心」" in r.stderr and "新能源汽车及汽车核心零部件（nev）" in r.stderr
            and "动力电池与新型储能（battery_storage）" in r.stderr and "请立即保存密钥" in r.stderr)
    store = KeyStore(open_api_db(db_settings))
    p = store.verify(key)
    assert (p.role, p.centre, p.chains) == ("centre", "cz-nev", ("nev", "battery_storage"))
    r = runner.invoke(app, ["keys", "list"])
    assert r.exit_code == 0 and p.key_id in r.stdout and key not in r.stdout
    assert "有效" in r.stdout and "动力电池与新型储能（battery_storage）" in r.stdout
    r = runner.invoke(app, ["keys", "revoke", p.key_id])
    assert r.exit_code == 0 and f"已吊销密钥 {p.key_id}" in r.stdout
    store._cache.clear()
    assert runner.invoke(app, ["keys", "list"]).stdout.count(p.key_id) == 0
    listed = runner.invoke(app, ["keys", "list", "--all"]).stdout
    assert p.key_id in listed and "已吊销（" in listed


def test_keys_errors_are_clear(db_settings):
    r = runner.invoke(app, ["keys", "create", "x", "--role", "admin"])
    assert r.exit_code == 2 and "role must be one of" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["keys", "create", "x", "--role", "centre"])
    assert r.exit_code == 2 and "--chain" in r.stderr
    r = runner.invoke(app, ["keys", "create", "x", "--role", "centre", "--centre", "c",
                            "--chain", "nevv"])
    assert r.exit_code == 2 and "nevv" in r.stderr and "battery_storage" in r.stderr
    r = runner.invoke(app, ["keys", "create", "x", "--role", "centre", "--centre", "c",
                            "--chain", "动力电池与新型储能", "--chain", "nev"])
    assert r.exit_code == 0, r.output  # a Chinese chain name works as the id
    p = KeyStore(open_api_db(db_settings)).verify(r.stdout.strip().splitlines()[0])
    assert p.chains == ("battery_storage", "nev")
    r = runner.invoke(app, ["keys", "revoke", "feedbeef"])
    assert r.exit_code == 3 and "no API key" in r.stderr


def test_serve_help():
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--workers" in r.stdout and "--port" in r.stdout
