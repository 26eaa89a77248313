"""The labels themselves: frozen, JSON-friendly, versioned (``to_dict``/``from_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _tuplify(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k not in names:
            continue  # labels written by a newer version: ignore unknown fields
        if k == "top3" and v is not None:
            v = tuple((str(c), float(s)) for c, s in v)
        elif isinstance(v, list):
            v = tuple(v)
        out[k] = v
    return out


@dataclass(frozen=True)
class _Base:
    record_id: str
    chains: tuple[str, ...] = ()
    chain_scores: dict[str, float] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()           # the rules that fired (or why nothing did)
    method: str = "none"                     # ipc_rules | classifier | keywords | declared+... | error
    top3: tuple[tuple[str, float], ...] = ()
    abstained: bool = False                  # True = no chain reached its threshold
    problem: str | None = None               # 技术问题
    means: str | None = None                 # 技术手段
    effect: str | None = None                # 功能效果
    labeler_version: str = ""
    taxonomy_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top3"] = [list(x) for x in self.top3]
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        return cls(**_tuplify(cls, d))


@dataclass(frozen=True)
class PatentLabels(_Base):
    excluded: tuple[str, ...] = ()           # exclusions that removed a chain
    essential_features: tuple[str, ...] = () # 必要技术特征 (independent claim clauses)
    patent_type: str = "unknown"
    trl: int = 3                             # 成熟等级 GB/T 22900, 1..9
    trl_reasons: tuple[str, ...] = ()
    grade: str = "C"                         # 分级 A/B/C
    grade_score: float = 0.0
    grade_reasons: tuple[str, ...] = ()
    market_prospect: str | None = None       # 市场前景: set by a reviewer
    transaction_modes: tuple[str, ...] = ()  # 转让 / 许可 / 开放许可
    open_license: bool = False
    license_fee: str | None = None           # 开放许可使用费标准 (as declared)
    # structured: mode, fee_wan, period, payment (一次性/按年/提成), royalty_pct, negotiable,
    # yearly_fee_wan, fee_text (labeler.license_terms_of)
    license_terms: dict[str, Any] = field(default_factory=dict)
    given: tuple[str, ...] = ()              # fields a person gave (problem/means/effect)


@dataclass(frozen=True)
class DemandLabels(_Base):
    required_trl: int | None = None
    budget: str | None = None                # as written
    budget_wan_min: float | None = None      # parsed, 万元
    budget_wan_max: float | None = None
    cooperation_mode: str | None = None      # 转让 / 许可 / 合作开发 / 其他
    deadline: str | None = None              # ISO yyyy-mm-dd
