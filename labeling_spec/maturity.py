"""Default 成熟等级 (TRL, GB/T 22900 nine levels) from what is known about a patent.

Rules live in ``spec/maturity.yaml``; a reviewer's value always wins (record attribute
``trl`` or the labeler's override map). Facts used: patent type (from the attribute
``patent_type``, the publication-number kind code, or 本实用新型 in the text), legal
status, transfer/licence counts and implementation flags when the record carries them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from patmatch.errors import SpecError

from labeling_spec.spec import read_yaml, spec_path

VALID = ("有效", "授权", "valid", "granted", "在审", "实质审查", "公开", "pending")
GRANTED = ("有效", "授权", "valid", "granted")
INVALID = ("失效", "无效", "撤回", "驳回", "放弃", "终止", "期限届满", "未缴年费", "withdrawn",
           "lapsed", "rejected", "expired", "invalid")
PATENT_TYPES = ("invention", "invention_application", "utility_model", "design", "unknown")
_KIND = re.compile(r"^CN\d{6,}\.?\d?([ABUSCY])\d?$", re.I)


def patent_type(record: Any) -> str:
    """invention (granted) / invention_application / utility_model / design / unknown."""
    explicit = getattr(record, "patent_type", None)
    if explicit in PATENT_TYPES:
        return explicit
    for attr in ("publication_number", "id"):
        m = _KIND.match(str(getattr(record, attr, "") or "").replace(" ", ""))
        if m:
            return {"A": "invention_application", "B": "invention", "C": "invention",
                    "U": "utility_model", "Y": "utility_model", "S": "design"}[m.group(1).upper()]
    text = f"{getattr(record, 'title', '') or ''}{getattr(record, 'abstract', '') or ''}"
    if "本实用新型" in text:
        return "utility_model"
    if "本外观设计" in text:
        return "design"
    status = str(getattr(record, "legal_status", "") or "")
    if "本发明" in text:
        if any(s in status for s in GRANTED):
            return "invention"
        if any(s in status for s in ("实质审查", "公开", "pending")):
            return "invention_application"
    return "unknown"


def legal_valid(record: Any) -> bool | None:
    status = str(getattr(record, "legal_status", "") or "").strip().lower()
    if not status:
        return None
    if any(s in status for s in INVALID):
        return False
    return True if any(s in status for s in VALID) else None


@dataclass(frozen=True, slots=True)
class TrlRule:
    trl: int
    reason: str
    when: dict[str, Any]
    cap: bool = False


@dataclass(frozen=True, slots=True)
class MaturitySpec:
    version: str
    scale: dict[int, str]
    default_trl: int
    default_reason: str
    rules: tuple[TrlRule, ...]


_WHEN_KEYS = {"patent_type", "legal_valid", "text_any", "min_transfers", "implemented"}


@lru_cache(maxsize=8)
def load_maturity_spec(path: str | None = None) -> MaturitySpec:
    p = Path(path) if path else spec_path(None, "maturity.yaml")
    data = read_yaml(p)
    scale = data.get("scale") or {}
    if sorted(int(k) for k in scale) != list(range(1, 10)):
        raise SpecError(f"{p}: scale: expected levels 1..9 (GB/T 22900), got {sorted(scale)}",
                        details={"path": str(p)})
    rules = []
    for i, r in enumerate(data.get("rules") or []):
        when = r.get("when") if isinstance(r, dict) else None
        trl = r.get("trl") if isinstance(r, dict) else None
        if not isinstance(trl, int) or not 1 <= trl <= 9 or not isinstance(when, dict) \
                or set(when) - _WHEN_KEYS or not when:
            raise SpecError(f"{p}: rules[{i}]: expected {{trl: 1..9, reason, when: {{one of "
                            f"{sorted(_WHEN_KEYS)}}}}}, got {r!r}", details={"path": str(p), "rule": i})
        rules.append(TrlRule(trl, str(r.get("reason", "")), dict(when), bool(r.get("cap", False))))
    default = int(data.get("default_trl", 3))
    return MaturitySpec(str(data.get("version", "")), {int(k): str(v) for k, v in scale.items()},
                        default, str(data.get("default_reason", "")), tuple(rules))


def _matches(when: dict[str, Any], facts: dict[str, Any], text: str) -> bool:
    for key, want in when.items():
        if key == "patent_type" and facts["patent_type"] not in want:
            return False
        if key == "legal_valid" and facts["legal_valid"] is not want:
            return False
        if key == "text_any" and not any(w in text for w in want):
            return False
        if key == "min_transfers" and (facts["transfers"] or 0) < want:
            return False
        if key == "implemented" and bool(facts["implemented"]) is not bool(want):
            return False
    return True


def transfers_of(record: Any) -> int | None:
    vals = [getattr(record, a, None) for a in ("transfer_count", "license_count")]
    known = [int(v) for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(known) if known else None


def default_trl(record: Any, *, spec: MaturitySpec | None = None,
                override: int | None = None) -> tuple[int, tuple[str, ...]]:
    """(TRL 1..9, reasons). ``override`` (or the record's ``trl`` attribute) wins."""
    spec = spec or load_maturity_spec()
    own = getattr(record, "trl", None)
    for value, who in ((override, "人工复核"), (own, "记录自带")):
        if isinstance(value, int) and 1 <= value <= 9:
            return value, (f"TRL {value}：{who}（覆盖自动规则）— {spec.scale[value]}",)
    facts = {"patent_type": patent_type(record), "legal_valid": legal_valid(record),
             "transfers": transfers_of(record), "implemented": getattr(record, "implemented", None)}
    text = f"{getattr(record, 'title', '') or ''}{getattr(record, 'abstract', '') or ''}"
    level, reasons, cap = spec.default_trl, [], None
    for rule in spec.rules:
        if _matches(rule.when, facts, text):
            if rule.cap:
                cap = rule
            elif rule.trl >= level:
                level = rule.trl
                reasons.append(f"TRL {rule.trl}：{rule.reason}")
    if not reasons:
        reasons.append(f"TRL {spec.default_trl}：{spec.default_reason}")
    if cap is not None and level > cap.trl:
        level = cap.trl
        reasons.append(f"上限 TRL {cap.trl}：{cap.reason}")
    return level, tuple(reasons)
