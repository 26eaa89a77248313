"""Outcome feedback rules (标注与追踪): states, controlled reasons, deal types, transitions.

A (demand, patent) pair moves forward ``viewed -> contacted -> negotiating -> deal``
(steps may be skipped: a centre may learn of a negotiation without having logged the
contact) or to ``rejected`` from any open state. ``deal`` and ``rejected`` are final:
leaving them needs ``reopen=True``. Moving backwards is refused. Recording the state a pair
is already in is idempotent (nothing is written, ``changed`` is False).

Pure functions only; :class:`api.push.store.PushStore` applies them atomically.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Literal

from patmatch.errors import ConflictError, InputError

State = Literal["viewed", "contacted", "negotiating", "deal", "rejected"]
STATES: tuple[str, ...] = ("viewed", "contacted", "negotiating", "deal", "rejected")
FORWARD: tuple[str, ...] = ("viewed", "contacted", "negotiating", "deal")
FINAL: frozenset[str] = frozenset({"deal", "rejected"})
STATE_ZH = {"pushed": "已推送", "viewed": "已查看", "contacted": "已联系",
            "negotiating": "洽谈中", "deal": "已成交", "rejected": "已拒绝"}

REASONS: tuple[str, ...] = ("不相关", "技术成熟度不够", "价格不合适", "权属或法律状态问题",
                            "已有方案", "其他")
IRRELEVANT = "不相关"
DEAL_TYPES: tuple[str, ...] = ("转让", "许可", "开放许可", "作价入股")
# graded judgements for evaluation (patmatch eval --task feedback)
GRADES: dict[str, int] = {"deal": 3, "negotiating": 2, "contacted": 1}
MAX_AMOUNT_WAN = 10_000_000.0  # 1,000 亿元: anything larger is a typo


@dataclass(frozen=True)
class Outcome:
    """What a caller reports for one pair (validated by :func:`check_outcome`)."""

    status: str
    reason: str | None = None
    note: str | None = None
    deal_type: str | None = None
    amount_wan: float | None = None
    date: str | None = None
    reopen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_outcome(o: Outcome, *, today: _dt.date | None = None) -> Outcome:
    """The outcome with defaults filled in; InputError naming the field otherwise."""
    if o.status not in STATES:
        raise InputError(f"状态必须是 {' / '.join(STATES)} 之一 (status must be one of "
                         f"{', '.join(STATES)}); got {o.status!r}",
                         details={"field": "status", "value": o.status})
    note = (o.note or "").strip()[:1000] or None
    reason = o.reason
    if o.status == "rejected":
        if reason not in REASONS:
            raise InputError(f"拒绝须给出原因: {' / '.join(REASONS)} (a rejection needs a reason "
                             f"from this list); got {reason!r}",
                             details={"field": "reason", "value": reason})
        if reason == "其他" and not note:
            raise InputError("原因为“其他”时须填写说明 (reason 其他 needs a note)",
                             details={"field": "note"})
    elif reason is not None:
        raise InputError(f"只有拒绝 (rejected) 才带原因; got reason {reason!r} with status "
                         f"{o.status!r}", details={"field": "reason"})
    deal_type, amount, date = o.deal_type, o.amount_wan, o.date
    if o.status == "deal":
        if deal_type not in DEAL_TYPES:
            raise InputError(f"成交须给出方式: {' / '.join(DEAL_TYPES)} (a deal needs deal_type); "
                             f"got {deal_type!r}", details={"field": "deal_type",
                                                            "value": deal_type})
        if amount is not None:
            try:
                amount = float(amount)
            except (TypeError, ValueError):
                raise InputError(f"金额 (amount_wan, 万元) 须为数字; got {amount!r}",
                                 details={"field": "amount_wan"}) from None
            if not (0 <= amount <= MAX_AMOUNT_WAN) or amount != amount:
                raise InputError(f"金额 (amount_wan, 万元) 须在 0 到 {MAX_AMOUNT_WAN:.0f} 之间; "
                                 f"got {amount}", details={"field": "amount_wan"})
        today = today or _dt.datetime.now(_dt.timezone.utc).date()
        if date is None or str(date).strip() == "":
            date = today.isoformat()
        else:
            try:
                d = _dt.date.fromisoformat(str(date).strip()[:10])
            except ValueError:
                raise InputError(f"成交日期须为 yyyy-mm-dd (date must be an ISO date); got "
                                 f"{date!r}", details={"field": "date"}) from None
            if d > today + _dt.timedelta(days=1):
                raise InputError(f"成交日期不能在未来 (deal date {d} is in the future)",
                                 details={"field": "date"})
            date = d.isoformat()
    elif deal_type is not None or amount is not None or date is not None:
        raise InputError(f"成交方式、金额和日期只用于成交 (deal_type/amount_wan/date belong to a "
                         f"deal); got status {o.status!r}", details={"field": "deal_type"})
    return Outcome(o.status, reason, note, deal_type, amount, date, bool(o.reopen))


def same_outcome(current: dict[str, Any], o: Outcome) -> bool:
    """True when recording ``o`` would change nothing (an idempotent repeat)."""
    return (current.get("state") == o.status and current.get("reason") == o.reason
            and (o.note is None or current.get("note") == o.note)
            and current.get("deal_type") == o.deal_type
            and (o.amount_wan is None or current.get("amount_wan") == o.amount_wan)
            and (o.status != "deal" or o.date is None or current.get("deal_date") == o.date))


def check_transition(current: str | None, o: Outcome) -> None:
    """ConflictError (409) naming the current state when ``current -> o.status`` is not allowed."""
    if current is None or current == o.status and current not in FINAL:
        return
    target = o.status
    if current in FINAL:
        if o.reopen:
            return
        raise ConflictError(
            f"该条目当前状态为“{STATE_ZH[current]}”({current})，已是终态；如需更改请显式重新打开 "
            f"(reopen=true) (the pair is {current}, a final state; pass reopen to change it)",
            details={"current": current, "requested": target})
    if target == "rejected":
        return
    if FORWARD.index(target) < FORWARD.index(current):
        raise ConflictError(
            f"不能从“{STATE_ZH[current]}”({current}) 退回到“{STATE_ZH[target]}”({target}) "
            f"(the pair is {current}; states only move forward)",
            details={"current": current, "requested": target})


def furthest(states: list[str]) -> int:
    """Funnel depth reached by a history: 0 pushed, 1 viewed ... 4 deal (rejections keep
    the depth reached before them)."""
    depth = 0
    for s in states:
        if s in FORWARD:
            depth = max(depth, FORWARD.index(s) + 1)
    return depth


__all__ = ["DEAL_TYPES", "FINAL", "FORWARD", "GRADES", "IRRELEVANT", "REASONS", "STATES",
           "STATE_ZH", "Outcome", "check_outcome", "check_transition", "furthest",
           "same_outcome"]
