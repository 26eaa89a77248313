"""Personal data planted in free text reaches no output path (issue 13 finding 2):
ingest (store at rest, rejects), batch files in every format, logs. The API side
(responses per role, audit) is tests/api/test_pii_api.py."""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

PLANTED = {
    "mobile": "13912345678",
    "landline": "0519-86612345",
    "email": "lisi.secret@example.org",
    "id18": "11010519491231002X",
    "card": "6222021234567890128",
    "name": "欧阳锋",
}
# what must never appear (digits compared without separators too)
NEEDLES = ("13912345678", "86612345", "lisi.secret", "11010519491231002X",
           "6222021234567890128", "欧阳锋")


def planted_text(prefix: str = "") -> str:
    p = PLANTED
    return (f"{prefix}需要锂电池低温电解液技术，联系人：{p['name']}，手机{p['mobile']}，"
            f"座机{p['landline']}，邮箱{p['email']}，身份证{p['id18']}，"
            f"收款卡号{p['card']}。")


def assert_clean(blob: bytes | str, where: str) -> None:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    flat = text.replace("-", "").replace(" ", "")
    for n in NEEDLES:
        assert n not in text and n not in flat, f"{n!r} found in {where}"


def test_detector_masks_every_planted_kind() -> None:
    from indexing.privacy import mask_pii

    out = mask_pii(planted_text())
    assert_clean(out, "mask_pii output")
    assert "锂电池低温电解液" in out and mask_pii(out) == out  # matching text kept, idempotent


def _demand_file(tmp_path: Path) -> Path:
    p = tmp_path / "demands.csv"
    rows = ["id,title,text,enterprise,budget,contact_name,contact_phone,contact_email,deadline"]
    rows.append(f"D1,低温电池 {PLANTED['mobile']},{planted_text()},常州某公司 {PLANTED['email']},"
                f"面议 联系人{PLANTED['name']}{PLANTED['mobile']},{PLANTED['name']},"
                f"{PLANTED['mobile']},{PLANTED['email']},2027-01-31")
    # rejected rows carry the same values into the rejects file
    rows.append(f"D2,标题,{planted_text('坏日期')},,,,{PLANTED['mobile']},,2021-02-30")
    rows.append(f"D3,标题,{planted_text('占位日期')},,,,,,9999-12-31")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_ingest_store_and_rejects_hold_no_planted_value(tmp_path: Path, settings: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from indexing.intake.ingest import ingest_files
    from indexing.store.record_store import open_store

    caplog.set_level(logging.DEBUG)
    store = open_store(settings)
    rep = ingest_files("demands", [_demand_file(tmp_path)], store, rejects_dir=tmp_path / "rej")
    assert (rep.accepted, rep.rejected) == (1, 2) and rep.cleaned.get("pii_masked") == 1
    rec = store.get_demand("D1")
    # the contact fields are kept for the roles allowed to see them, encrypted at rest
    assert rec.contact_phone == PLANTED["mobile"] and rec.contact_name == PLANTED["name"]
    for f in ("text", "title", "enterprise", "budget"):
        assert_clean(getattr(rec, f), f"stored {f}")
    assert "锂电池低温电解液" in rec.text
    store.close()
    db = settings.home / "store.sqlite3"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for f in db.parent.glob("store.sqlite3*"):
        assert_clean(f.read_bytes(), f.name)
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    rej = rep.rejects_path
    assert stat.S_IMODE(rej.stat().st_mode) == 0o600
    body = rej.read_text(encoding="utf-8-sig")
    assert "2021-02-30" in body and "9999-12-31" in body and "implausible" in body
    assert_clean(body, "rejects file")
    assert_clean(caplog.text, "logs")


@pytest.mark.parametrize("fmt", [".csv", ".xlsx", ".parquet"])
def test_batch_files_hold_no_planted_value(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any,
                                           tmp_path: Path, fmt: str) -> None:
    import polars as pl

    from indexing.intake.ingest import read_records
    from matcher.batch import run_batch
    from matcher.queries import queries_from_records

    records, rejects = read_records("demands", _demand_file(tmp_path))
    assert [r.id for r in records] == ["D1"] and len(rejects) == 2
    out = tmp_path / f"out{fmt}"
    run_batch(tiny_bundle, tokenizer, tiny_encoder, queries_from_records(records), out=out,
              top_k=5, progress=False)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    df = (pl.read_csv(out) if fmt == ".csv" else pl.read_excel(out) if fmt == ".xlsx"
          else pl.read_parquet(out))
    assert df.height > 0
    assert_clean(df.write_csv(), f"batch output {fmt}")
    assert_clean(out.read_bytes(), f"batch file {fmt}")
