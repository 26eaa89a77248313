"""分级管理: value / screening grade A/B/C with the formula of ``spec/grading.yaml``.

Every indicator contributes ``weight * s`` (s in [0, 1]); unknown indicators are left out
of both numerator and denominator and named in the reasons. Each grade carries the list of
contributions so a reviewer can see why a patent is A, B or C.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from patmatch.errors import SpecError

from labeling_spec.ipc import parse_ipc
from labeling_spec.maturity import GRANTED, legal_valid, patent_type, transfers_of
from labeling_spec.spec import read_yaml, spec_path

INDICATORS = ("legal_status", "remaining_term", "claim_count", "ipc_breadth", "citations",
              "chain_fit", "transfers", "open_license")


@dataclass(frozen=True, slots=True)
class GradingSpec:
    version: str
    threshold_a: float
    threshold_b: float
    invalid_is_c: bool
    indicators: dict[str, dict[str, Any]]
    terms_years: dict[str, int]


@lru_cache(maxsize=8)
def load_grading_spec(path: str | None = None) -> GradingSpec:
    p = Path(path) if path else spec_path(None, "grading.yaml")
    data = read_yaml(p)
    th = data.get("thresholds") or {}
    a, b = th.get("A"), th.get("B")
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not 0 <= b < a <= 100:
        raise SpecError(f"{p}: thresholds: expected 0 <= B < A <= 100, got A={a!r} B={b!r}",
                        details={"path": str(p)})
    ind = data.get("indicators") or {}
    unknown = set(ind) - set(INDICATORS)
    if unknown or not ind:
        raise SpecError(f"{p}: indicators: expected a subset of {list(INDICATORS)}, got {sorted(ind)}",
                        details={"path": str(p)})
    for name, cfg in ind.items():
        w = cfg.get("weight") if isinstance(cfg, dict) else None
        if not isinstance(w, int | float) or w < 0:
            raise SpecError(f"{p}: indicators.{name}.weight: expected a number >= 0, got {w!r}",
                            details={"path": str(p)})
    return GradingSpec(str(data.get("version", "")), float(a), float(b),
                       bool(data.get("invalid_is_c", True)), {k: dict(v) for k, v in ind.items()},
                       {str(k): int(v) for k, v in (data.get("terms_years") or {}).items()})


_CLAIM_START = re.compile(r"(?:^|\n|。)\s*(\d{1,3})\s*[.．、]\s*(?=\D)")


def claim_count(claims: str | None) -> int | None:
    if not claims or not claims.strip():
        return None
    numbers = {int(m.group(1)) for m in _CLAIM_START.finditer(claims)}
    return max(numbers) if numbers else 1


def _years_left(record: Any, ptype: str, spec: GradingSpec, today: dt.date) -> float | None:
    raw = getattr(record, "application_date", None)
    if not raw:
        return None
    try:
        filed = dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None
    term = spec.terms_years.get(ptype, spec.terms_years.get("unknown", 20))
    return max(0.0, term - (today - filed).days / 365.25)


def grade_patent(record: Any, *, chain_score: float = 0.0, spec: GradingSpec | None = None,
                 today: dt.date | None = None) -> tuple[str, float, tuple[str, ...]]:
    """(grade, score 0..100, reasons) for one patent record (read by attribute)."""
    spec = spec or load_grading_spec()
    today = today or dt.date.today()
    ptype = patent_type(record)
    valid = legal_valid(record)
    status = str(getattr(record, "legal_status", "") or "")
    values: dict[str, tuple[float | None, str]] = {}
    if valid is None:
        values["legal_status"] = (None, "法律状态未知")
    else:
        s = 1.0 if any(g in status for g in GRANTED) else (0.5 if valid else 0.0)
        values["legal_status"] = (s, f"法律状态“{status}”")
    full = lambda name: float(spec.indicators.get(name, {}).get("full_at", 1) or 1)  # noqa: E731
    years = _years_left(record, ptype, spec, today)
    values["remaining_term"] = (None, "申请日未知，剩余保护期不详") if years is None else (
        min(1.0, years / full("remaining_term")), f"剩余保护期约 {years:.1f} 年")
    n_claims = claim_count(getattr(record, "claims", None))
    values["claim_count"] = (None, "无权利要求文本") if n_claims is None else (
        min(1.0, n_claims / full("claim_count")), f"权利要求 {n_claims} 项")
    ipcs = {c.subclass_code for c in (parse_ipc(x) for x in getattr(record, "ipc", ()) or ()) if c}
    values["ipc_breadth"] = (None, "无 IPC 分类号") if not ipcs else (
        min(1.0, len(ipcs) / full("ipc_breadth")), f"IPC 覆盖 {len(ipcs)} 个小类")
    cites = getattr(record, "citations", None)
    values["citations"] = (None, "无被引数据") if not isinstance(cites, int) else (
        min(1.0, cites / full("citations")), f"被引 {cites} 次")
    values["chain_fit"] = (min(1.0, chain_score), f"产业链匹配度 {chain_score:.2f}")
    transfers = transfers_of(record)
    values["transfers"] = (None, "无转让/许可记录数据") if transfers is None else (
        min(1.0, transfers / full("transfers")), f"转让/许可 {transfers} 次")
    values["open_license"] = (1.0 if getattr(record, "open_license", False) else 0.0,
                              "已声明开放许可" if getattr(record, "open_license", False) else "未声明开放许可")
    got = total = 0.0
    reasons: list[str] = []
    for name, cfg in spec.indicators.items():
        s, why = values[name]
        w = float(cfg["weight"])
        if s is None:
            reasons.append(f"{why}（{name} 不计分）")
            continue
        got += w * s
        total += w
        reasons.append(f"{why}：+{w * s:.1f}/{w:g}")
    score = round(100.0 * got / total, 1) if total else 0.0
    grade = "A" if score >= spec.threshold_a else "B" if score >= spec.threshold_b else "C"
    if spec.invalid_is_c and valid is False:
        grade = "C"
        reasons.append("专利已失效：一律 C 级")
    reasons.insert(0, f"综合得分 {score:.1f}（A ≥ {spec.threshold_a:g}，B ≥ {spec.threshold_b:g}）→ {grade}")
    return grade, score, tuple(reasons)
