"""``patmatch feedback import FILE``: outcomes from a CSV/XLSX sheet, row by row.

Columns (Chinese headers accepted): ``demand_id`` (需求编号) or ``subscription_id`` (订阅编号),
``patent_id`` (专利号), ``status`` (状态: viewed/contacted/negotiating/deal/rejected or 已查看/
已联系/洽谈中/已成交/已拒绝), ``reason`` (原因), ``note`` (说明), ``deal_type`` (成交方式),
``amount_wan`` (金额万元), ``date`` (成交日期), ``reopen`` (重新打开). Each row is recorded on
its own: a bad row (unknown demand or patent, a value outside the lists, a transition not
allowed) is rejected with its reason into a rejects CSV and the others still count;
``read = recorded + unchanged + rejected`` always.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patmatch.errors import FileFormatError, MissingColumnError, PatmatchError

from api.push.feedback import STATE_ZH, Outcome
from api.push.store import PushStore
from api.push.subscriptions import Owner

HEADERS = {"需求编号": "demand_id", "需求id": "demand_id", "订阅编号": "subscription_id",
           "专利号": "patent_id", "专利编号": "patent_id", "状态": "status", "原因": "reason",
           "拒绝原因": "reason", "说明": "note", "备注": "note", "成交方式": "deal_type",
           "金额": "amount_wan", "金额万元": "amount_wan", "金额(万元)": "amount_wan",
           "金额（万元）": "amount_wan", "成交日期": "date", "日期": "date", "重新打开": "reopen"}
STATUS_ZH = {v: k for k, v in STATE_ZH.items() if k != "pushed"}
MAX_ROWS = 100_000


@dataclass
class ImportReport:
    read: int = 0
    recorded: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rejects_path: Path | None = None

    def line(self) -> str:
        return (f"read {self.read} = recorded {self.recorded} + unchanged {self.unchanged} "
                f"+ rejected {self.rejected}")


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows as strings keyed by canonical column names."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileFormatError(f"文件不存在: {path}", details={"path": str(path)})
    if suffix in (".csv", ".txt"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise FileFormatError(f"{path.name}: 无法识别的编码")
        rows = list(csv.DictReader(io.StringIO(text)))
    elif suffix in (".xlsx", ".xls"):
        import polars as pl

        try:
            df = pl.read_excel(path, infer_schema_length=0)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
            raise FileFormatError(f"{path.name}: 无法读取表格: {exc}") from None
        rows = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in df.to_dicts()]
    else:
        raise FileFormatError(f"{path.name}: 须为 .csv 或 .xlsx (got {suffix or 'no suffix'})",
                              details={"path": str(path)})
    if len(rows) > MAX_ROWS:
        raise FileFormatError(f"{path.name}: 超过 {MAX_ROWS} 行", details={"rows": len(rows)})
    out = []
    for r in rows:
        out.append({HEADERS.get(str(k).strip().lower(), HEADERS.get(str(k).strip(),
                                                                    str(k).strip().lower())):
                    (v or "").strip() for k, v in r.items() if k is not None})
    cols = set(out[0]) if out else set()
    if out and ("patent_id" not in cols or "status" not in cols
                or not cols & {"demand_id", "subscription_id"}):
        raise MissingColumnError(
            f"{path.name}: 须有 patent_id(专利号)、status(状态) 和 demand_id(需求编号) 或 "
            f"subscription_id 列; got {sorted(cols)}", details={"columns": sorted(cols)})
    return out


def _outcome(r: dict[str, str]) -> Outcome:
    status = STATUS_ZH.get(r.get("status", ""), r.get("status", ""))
    amount: Any = r.get("amount_wan") or None
    reopen = (r.get("reopen") or "").lower() in ("1", "true", "yes", "是", "y")
    return Outcome(status, r.get("reason") or None, r.get("note") or None,
                   r.get("deal_type") or None, amount, (r.get("date") or None), reopen)


def import_feedback(path: Path, store: PushStore, *, demand_exists: Callable[[str], bool],
                    patent_exists: Callable[[str], bool], actor: Owner,
                    rejects_dir: Path) -> ImportReport:
    rows = read_rows(Path(path))
    rep = ImportReport(read=len(rows))
    for i, r in enumerate(rows, start=2):  # row 1 is the header
        try:
            demand_id = r.get("demand_id") or None
            sid = r.get("subscription_id") or None
            if (demand_id is None) == (sid is None):
                raise _Bad("须给出 demand_id 或 subscription_id 之一")
            pid = r.get("patent_id") or ""
            if not pid:
                raise _Bad("缺少 patent_id")
            owner_centre = None
            if sid is not None:
                sub = store.get_subscription(sid)
                if sub is None:
                    raise _Bad(f"订阅 {sid} 不存在")
                demand_id, owner_centre = sub.demand_id, sub.owner_centre
            if demand_id is not None and not demand_exists(demand_id):
                raise _Bad(f"需求 {demand_id} 不存在")
            if not patent_exists(pid):
                raise _Bad(f"专利 {pid} 不存在")
            res = store.record_feedback(
                subject=demand_id or f"sub:{sid}", patent_id=pid, outcome=_outcome(r),
                actor=actor, source="import", demand_id=demand_id, subscription_id=sid,
                owner_centre=owner_centre)
        except (_Bad, PatmatchError) as exc:
            rep.rejected += 1
            rep.rejects.append({"row": i, **r, "error": getattr(exc, "message", str(exc))})
            continue
        if res.changed:
            rep.recorded += 1
        else:
            rep.unchanged += 1
    if rep.rejects:
        rep.rejects_path = _write_rejects(rejects_dir, Path(path).stem, rep.rejects)
    return rep


class _Bad(Exception):
    @property
    def message(self) -> str:
        return str(self)


def _write_rejects(folder: Path, stem: str, rows: list[dict[str, Any]]) -> Path:
    from indexing.index.bundle import atomic_write_text

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = Path(folder) / f"feedback-{stem}-{stamp}-rejects.csv"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return path


__all__ = ["ImportReport", "import_feedback", "read_rows"]
