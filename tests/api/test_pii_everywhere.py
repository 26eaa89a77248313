"""The PII grep test of issue 13: known values planted in the free text of patents, demands
and transfers (a mobile and a landline, an e-mail, an 18- and a 15-digit ID number, a bank
card, a name after 联系人/负责人) go through ingest, a real build and a served API; then every
output path is collected and grepped: API answers for every role, batch job results in
every format, the CLI's batch files (``patmatch match``: CSV, XLSX, Parquet, rejects) and
label files (``patmatch label``: JSONL), rejects files, the audit log, statistics
reports (supply-demand and transfer reports in every format, PNG text chunks included),
push outputs (file channel XLSX + HTML, e-mail digest, webhook
body), logs, and every file at rest under the home folder (databases, job folders, outbox,
reports). None may hold a planted value. Files holding records are 0600 and job inputs are
gone when the job ends. (Masking rules: tests/indexing/test_pii.py; the narrower earlier
checks: tests/api/test_pii_api.py, tests/matcher/test_pii_outputs.py.)"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patmatch.settings import Settings

from tests.api.conftest import KEYS, hdr
from tests.api.pii_readers import ID15, leaked_needles, response_text, text_of
from tests.matcher.test_pii_outputs import PLANTED

CHAIN = "battery_storage"


def planted(prefix: str) -> str:
    p = PLANTED
    return (f"{prefix}，联系人：{p['name']}，手机{p['mobile']}，座机{p['landline']}，"
            f"邮箱{p['email']}，身份证{p['id18']}，老身份证号{ID15}，收款卡号{p['card']}，"
            f"负责人{p['name']}先生。")


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    p = PLANTED
    patents = _csv(folder / "patents.csv",
                   ["id", "title", "abstract", "claims", "problem", "applicant", "application_date"],
                   [[f"P-PII-{i}", f"一种低温锂电池电解液 联系人{p['name']}{p['mobile']}",
                     planted("本发明公开了一种锂电池低温电解液，改善低温放电"),
                     planted("1. 一种电解液"), planted("低温续航衰减"),
                     f"常州某电池公司 {p['email']}", "2021-03-05"] for i in range(1, 4)]
                   + [["P-PII-BAD", "一种电池", planted("坏日期"), "", "", "", "2021-02-30"]])
    demands = _csv(folder / "demands.csv",
                   ["id", "title", "text", "enterprise", "budget", "contact_name",
                    "contact_phone", "contact_email", "deadline"],
                   [[f"D-PII-{i}", f"低温电池 {p['mobile']}", planted("需要锂电池低温电解液技术"),
                     f"常州某公司 {p['email']}", f"面议 负责人{p['name']}{p['mobile']}",
                     p["name"], p["mobile"], p["email"], "2027-01-31"] for i in range(1, 3)]
                   + [["D-PII-BAD", "标题", planted("占位日期"), "", "", "", p["mobile"], "",
                       "9999-12-31"]])
    transfers = _csv(folder / "transfers.csv",
                     ["专利号", "事件类型", "生效日", "让与人", "让与人地址", "受让人", "受让人地址",
                      "合同金额(万元)"],
                     [["ZL202110000001.1", "转让", "2025-03-01", f"常州大学 联系人：{p['name']}",
                       f"江苏省常州市武进区滆湖中路21号 电话{p['landline']}",
                       f"常州青禾科技有限公司 {p['email']}",
                       f"江苏省常州市新北区太湖东路9号 手机{p['mobile']}", "100"],
                      ["ZL202110000002.2", "许可", "2025-06-01", f"南京大学 身份证{p['id18']}",
                       "江苏省南京市鼓楼区汉口路22号", f"上海申联电子有限公司 卡号{p['card']}",
                       f"上海市浦东新区张江路100号 老身份证{ID15}", "50"],
                      ["ZL202110000003.3", "赠与", "2025-07-01", f"常州大学 {p['mobile']}",
                       "江苏省常州市武进区", f"某公司 {p['email']}", "江苏省常州市新北区", "1"]])
    return {"patents": patents, "demands": demands, "transfers": transfers}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Ingest -> label -> build -> publish -> serve -> every output; returns where -> text."""
    pytest.importorskip("matcher.ranker")
    from benchmarks.push_servers import SMTPReceiver, WebhookReceiver
    from indexing.build.pipeline import build
    from indexing.build.publish import publish
    from indexing.encoders.encoder import EncoderConfig
    from indexing.intake.ingest import ingest_files
    from indexing.intake.transfers import ingest_transfers
    from indexing.store.record_store import open_store
    from indexing.store.tables_transfers import open_transfers
    from indexing.text.tokenizer import ChineseTokenizer
    from indexing.training.tiny_encoder import make_tiny_encoder

    from api.main import create_app

    home = tmp_path_factory.mktemp("pii-home")
    inputs = _inputs(tmp_path_factory.mktemp("pii-inputs") / "in")
    grab = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(grab)
    root.setLevel(logging.DEBUG)
    out: dict[str, str] = {}
    try:
        with SMTPReceiver() as smtp, WebhookReceiver() as hook:
            settings = Settings(home=home, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                webhook_allow_private=True)
            store = open_store(settings)
            reports = [ingest_files(k, [inputs[k]], store, rejects_dir=home / "rejects")
                       for k in ("patents", "demands")]
            reports.append(ingest_transfers([inputs["transfers"]], open_transfers(settings),
                                            rejects_dir=home / "rejects"))
            assert [(r.accepted, r.rejected) for r in reports] == [(3, 1), (2, 1), (2, 1)]
            out["ingest reports"] = json.dumps([r.to_dict() for r in reports], ensure_ascii=False)
            store.save_labels("patents", {f"P-PII-{i}": {"chains": [CHAIN]} for i in (1, 2, 3)},
                              "test")
            store.save_labels("demands", {f"D-PII-{i}": {"chains": [CHAIN]} for i in (1, 2)},
                              "test")
            enc_dir = home / "tiny-encoder"
            encoder = make_tiny_encoder(enc_dir, ["电池", "低温", "电解液", "续航"], dim=32, seed=0)
            build_id = build(store, settings, tokenizer=ChineseTokenizer(), encoder=encoder,
                             encoder_config=EncoderConfig(name=str(enc_dir)).to_dict())
            publish(settings, build_id)
            store.close()
            app = create_app(settings, reload_interval=0)
            with TestClient(app) as client:
                keys = {n: app.state.keys.create(n, r, centre=c, chains=ch)[0]
                        for n, (r, c, ch) in KEYS.items()}
                _api_outputs(client, keys, out)
                _job_outputs(client, keys, inputs, out)
                _push_outputs(client, keys, settings, smtp, hook, out)
                _report_outputs(client, keys, settings, out)
                _cli_outputs(home, inputs, out)
                audit = client.get("/v1/audit", params={"limit": 200},
                                   headers=hdr(keys["operator"]))
                assert audit.status_code == 200 and "锂电池" in audit.text
                out["GET /v1/audit"] = audit.text
    finally:
        root.removeHandler(grab)
        root.setLevel(old_level)
    out["logs"] = "\n".join(grab.lines)
    db = home / "store.sqlite3"
    if db.exists():
        with sqlite3.connect(db) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = sorted(p for p in home.rglob("*") if p.is_file() and "tiny-encoder" not in p.parts)
    for f in files:
        out[f"file {f.relative_to(home)}"] = text_of(f)
    return {"out": out, "home": home, "files": files}


def _shown(r: Any) -> str:
    """An answer as its reader sees it, less the contact fields of the roles allowed to see
    them (kept in clear for those roles by design, encrypted at rest)."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            allowed = node.get("contacts_masked") is False
            return {k: strip(v) for k, v in node.items()
                    if not (allowed and k.startswith("contact_"))}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    try:
        return json.dumps(strip(r.json()), ensure_ascii=False)
    except ValueError:
        return r.text


def _api_outputs(client: TestClient, keys: dict[str, str], out: dict[str, str]) -> None:
    op = hdr(keys["operator"])
    r = client.post("/v1/demands", headers=op, json={
        "id": "D-PII-API", "title": f"电池 {PLANTED['mobile']}",
        "text": planted("需要锂电池低温电解液"), "enterprise": f"某公司 {PLANTED['email']}",
        "budget": f"面议 身份证{PLANTED['id18']}", "chain": CHAIN, "owner": "cz-bat",
        "contact_name": PLANTED["name"], "contact_phone": PLANTED["mobile"],
        "contact_email": PLANTED["email"]})
    assert r.status_code == 201, r.text
    out["POST /v1/demands"] = _shown(r)
    demand_ids = ["D-PII-1", "D-PII-2", "D-PII-API"]
    for name, key in keys.items():
        h = hdr(key)
        calls = [("GET", "/v1/demands?limit=100", None), ("GET", f"/v1/chains/{CHAIN}/pairs", None),
                 ("POST", "/v1/match", {"text": planted("锂电池低温电解液")}),
                 ("POST", "/v1/match", {"demand_id": "D-PII-1"}),
                 ("GET", "/v1/patents/P-PII-1", None), ("GET", "/v1/patents/P-PII-1/demands", None)]
        calls += [("GET", f"/v1/demands/{d}", None) for d in demand_ids]
        calls += [("GET", f"/v1/demands/{d}/matches", None) for d in demand_ids]
        for method, url, body in calls:
            r = client.request(method, url, json=body, headers=h)
            assert r.status_code < 500, (name, url, r.text)
            out[f"{name} {method} {url}"] = _shown(r)
    assert "锂电池" in out["operator POST /v1/match"]


def _job_outputs(client: TestClient, keys: dict[str, str], inputs: dict[str, Path],
                 out: dict[str, str]) -> None:
    import polars as pl

    src = inputs["demands"]
    frame = pl.read_csv(src, infer_schema=False)
    uploads = {"csv": src.read_bytes()}
    buf = io.BytesIO()
    frame.write_parquet(buf)
    uploads["parquet"] = buf.getvalue()
    uploads["jsonl"] = frame.write_ndjson().encode()
    buf = io.BytesIO()
    frame.write_excel(buf)
    uploads["xlsx"] = buf.getvalue()
    h = hdr(keys["analyst"])
    for (in_fmt, data), out_fmt in zip(uploads.items(), ("csv", "xlsx", "parquet", "csv"),
                                       strict=True):
        r = client.post("/v1/jobs/match", files={"file": (f"demands.{in_fmt}", io.BytesIO(data))},
                        data={"top_k": "5", "format": out_fmt}, headers=h)
        assert r.status_code == 202, r.text
        jid = r.json()["job_id"]
        client.app.state.jobs.futures[jid].result(timeout=120)
        job = client.get(f"/v1/jobs/{jid}", headers=h).json()
        assert job["status"] == "succeeded", job
        out[f"job {in_fmt}->{out_fmt} status"] = json.dumps(job, ensure_ascii=False)
        res = client.get(job["result_url"], headers=h)
        assert res.status_code == 200 and len(res.content) > 0
        out[f"job {in_fmt}->{out_fmt} result"] = response_text(res)
        for key in ("rejects_url", "errors_url"):
            if job.get(key):
                out[f"job {in_fmt} {key}"] = client.get(job[key], headers=h).text


def _push_outputs(client: TestClient, keys: dict[str, str], settings: Settings, smtp: Any,
                  hook: Any, out: dict[str, str]) -> None:
    from api.push.dispatcher import push_for_engine

    h = hdr(keys["operator"])
    channels = [{"type": "file"}, {"type": "email", "to": ["centre@example.com"]},
                {"type": "webhook", "url": hook.url}]
    for ch in channels:
        for need in ({"text": planted("需要锂电池低温电解液")}, {"demand_id": "D-PII-1"}):
            r = client.post("/v1/subscriptions", headers=h, json={
                "channel": ch, "top_n": 3, "name": f"低温电池 联系人{PLANTED['name']}", **need})
            assert r.status_code == 201, r.text
            out[f"POST /v1/subscriptions {ch['type']}"] = r.text
    client.app.state.push_worker.wait_idle(60)
    push_for_engine(client.app.state.push, settings, client.app.state.engine, due_only=False)
    out["GET /v1/subscriptions"] = client.get("/v1/subscriptions", headers=h).text
    assert smtp.messages and hook.requests, "every channel delivered something"
    assert list(settings.outbox_dir.rglob("*.xlsx")) and list(settings.outbox_dir.rglob("*.html"))
    for i, msg in enumerate(smtp.messages):
        out[f"e-mail {i}"] = (str(msg["Subject"]) + msg.get_body(("plain",)).get_content()
                              + msg.get_body(("html",)).get_content())
    for i, req in enumerate(hook.requests):
        out[f"webhook {i}"] = req["body"].decode("utf-8")
    assert any("锂电池" in v or "电解液" in v for k, v in out.items() if k.startswith("webhook"))


def _report_outputs(client: TestClient, keys: dict[str, str], settings: Settings,
                    out: dict[str, str]) -> None:
    from api.reports.supply_demand import archive, build_report, write_xlsx
    from indexing.store.stats import Period

    h = hdr(keys["operator"])
    r = client.post("/v1/reports", json={"type": "annual", "period": "2025"}, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    for fmt in ("html", "xlsx", "md", "json", "png"):
        got = client.get(f"/v1/reports/{rid}/download", params={"format": fmt}, headers=h)
        assert got.status_code == 200, (fmt, got.text)
        out[f"transfer report {fmt}"] = response_text(got)
    assert "常州" in out["transfer report md"]
    report = build_report(settings, Period.parse("2000-01-01", "2100-12-31"))
    archive(settings, report)
    write_xlsx(report, settings.home / "reports" / "supply-demand.xlsx")
    out["supply-demand report"] = json.dumps(report, ensure_ascii=False, default=str)


CLI_OUT = "cli-out"
CLI_FILES = ("matches.csv", "matches.xlsx", "matches.parquet", "matches.rejects.csv",
             "labels-demands.jsonl")


def _cli_outputs(home: Path, inputs: dict[str, Path], out: dict[str, str]) -> None:
    """The analyst's CLI: ``patmatch match`` batch files in every format it writes (CSV,
    XLSX, Parquet) with its rejects file, and the ``patmatch label`` JSONL file. They
    land under the home, so the file walk greps them and checks their modes."""
    from typer.testing import CliRunner

    from patmatch.settings import get_settings

    from api.cli import app

    dest = home / CLI_OUT
    runs = [["match", "--demands", str(inputs["demands"]), "--top-k", "3", "--no-progress",
             "--out", str(dest / f"matches.{fmt}")] for fmt in ("csv", "xlsx", "parquet")]
    runs.append(["label", str(inputs["demands"]), "--kind", "demands",
                 "--out", str(dest / "labels-demands.jsonl")])
    get_settings.cache_clear()
    try:
        for args in runs:
            res = CliRunner().invoke(app, args, env={"PATMATCH_HOME": str(home)})
            assert res.exit_code == 0, (args, res.output)
            out[f"cli {args[0]} {Path(args[-1]).name} output"] = res.output
    finally:
        get_settings.cache_clear()
    assert sorted(p.name for p in dest.iterdir() if p.is_file()) == sorted(CLI_FILES)


def test_no_output_path_holds_a_planted_value(world: dict[str, Any]) -> None:
    out = world["out"]
    # the paths exist (a test that collected nothing would pass for nothing)
    kinds = ("GET /v1/audit", "logs", "job csv->csv result", "job parquet->xlsx result",
             "job jsonl->parquet result", "job xlsx->csv result", "e-mail 0", "webhook 0",
             "transfer report html", "transfer report xlsx", "transfer report png",
             "supply-demand report", *(f"file {CLI_OUT}/{name}" for name in CLI_FILES))
    for k in kinds:
        assert out.get(k), f"nothing collected from {k}"
    for prefix in ("file rejects/", "file outbox/", "file reports/", "file store.sqlite3"):
        assert any(k.startswith(prefix) for k in out), f"no {prefix} file"
    for role in KEYS:
        assert any(k.startswith(f"{role} ") for k in out), role
    leaks = {where: found for where, text in out.items() if (found := leaked_needles(text))}
    assert not leaks, f"planted values found: {leaks}"


def test_matching_text_survives_the_masking(world: dict[str, Any]) -> None:
    out = world["out"]
    assert "锂电池低温电解液" in out["file store.sqlite3"]
    assert "联系人：欧*" in out["operator GET /v1/demands/D-PII-1"] or \
        "联系人：欧**" in out["operator GET /v1/demands/D-PII-1"]


# files under the home that hold no records: the bundle pointer (build ids); reports list
# parties and deals, so they are owner-only like the rest
NO_RECORDS = ("bundles/CURRENT.json", "bundles/.pointer.lock")


def test_files_holding_records_are_owner_only(world: dict[str, Any]) -> None:
    """Store, rejects, job folders, outbox, bundles (0400), caches: no group/other bits."""
    home: Path = world["home"]
    holding = [f for f in world["files"]
               if not str(f.relative_to(home)).startswith(NO_RECORDS)]
    tops = {f.relative_to(home).parts[0] for f in holding}
    assert {"store.sqlite3", "rejects", "jobs", "outbox", "bundles", "cache", "reports",
            CLI_OUT} <= tops, tops
    loose = {str(f.relative_to(home)): oct(stat.S_IMODE(f.stat().st_mode)) for f in holding
             if stat.S_IMODE(f.stat().st_mode) & 0o077}
    assert not loose, f"files holding records readable by others: {loose}"


def test_job_inputs_are_gone_when_jobs_end(world: dict[str, Any]) -> None:
    jobs = world["home"] / "jobs"
    assert jobs.is_dir() and any(jobs.iterdir())
    left = [p.name for p in jobs.rglob("*") if p.is_file() and p.name.startswith("input")]
    assert not left, f"job inputs kept after the job ended: {left}"
