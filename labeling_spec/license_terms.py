"""Licence terms as data: mode, fee amount in 万元, period and payment mode.

Patent holders write fees as text (``3万元/年``, ``一次性支付10万元``, ``入门费2万元+销售额3%提成``,
``面议``). ``parse_fee`` turns that into a ``LicenseFee``; a structured value the input
already carries (amount, period, payment) always wins over what the text says.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

LICENSE_MODES: tuple[str, ...] = ("开放许可", "普通许可", "排他许可", "独占许可", "转让", "作价入股")
PAYMENT_MODES: tuple[str, ...] = ("一次性", "按年", "提成")
PERIODS: tuple[str, ...] = ("一次", "年", "季度", "月")
LICENSE_MODE_ALIASES: dict[str, str] = {
    **{m: m for m in LICENSE_MODES}, "open": "开放许可", "open_license": "开放许可",
    "non-exclusive": "普通许可", "nonexclusive": "普通许可", "一般许可": "普通许可",
    "sole": "排他许可", "exclusive": "独占许可", "独家许可": "独占许可", "assignment": "转让",
    "transfer": "转让", "入股": "作价入股",
}
PAYMENT_ALIASES: dict[str, str] = {
    **{m: m for m in PAYMENT_MODES}, "一次性支付": "一次性", "一次付清": "一次性", "lump_sum": "一次性",
    "lump sum": "一次性", "once": "一次性", "年付": "按年", "每年": "按年", "annual": "按年",
    "yearly": "按年", "royalty": "提成", "按销售额提成": "提成", "入门费+提成": "提成",
}
PERIOD_ALIASES: dict[str, str] = {
    **{p: p for p in PERIODS}, "一次性": "一次", "每年": "年", "年度": "年", "year": "年",
    "annual": "年", "每月": "月", "month": "月", "每季度": "季度", "quarter": "季度", "once": "一次",
}
_NUM = r"(\d+(?:\.\d+)?)"
_AMOUNT = re.compile(_NUM + r"\s*(亿元|亿|万元|万|千元|元)")
_UNIT = {"亿元": 10000.0, "亿": 10000.0, "万元": 1.0, "万": 1.0, "千元": 0.1, "元": 0.0001}
_PCT = re.compile(_NUM + r"\s*[%％]")
_PER = re.compile(r"(?:/|每|／)\s*(年|月|季度|季)")


@dataclass(frozen=True)
class LicenseFee:
    amount_wan: float | None = None   # 万元 per period (or once)
    period: str | None = None         # 一次 | 年 | 季度 | 月
    payment: str | None = None        # 一次性 | 按年 | 提成
    royalty_pct: float | None = None  # 提成比例 (% of sales), when stated
    negotiable: bool = False          # 面议
    text: str | None = None           # as declared

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def yearly_wan(self) -> float | None:
        """The fee over one year in 万元 (what a demand's budget is compared with)."""
        if self.amount_wan is None:
            return None
        return round(self.amount_wan * {"月": 12, "季度": 4}.get(self.period or "", 1), 4)


def choice(value: Any, aliases: dict[str, str]) -> str | None:
    """A canonical value from an alias (case and spaces ignored); None when unknown/empty."""
    if value is None:
        return None
    key = str(value).strip()
    if not key:
        return None
    return aliases.get(key) or aliases.get(key.lower())


def parse_fee(text: Any, *, amount_wan: Any = None, period: Any = None,
              payment: Any = None) -> LicenseFee:
    """``3万元/年`` -> LicenseFee(3.0, "年", "按年"); structured arguments win over the text.
    Garbage gives an empty LicenseFee (the text kept), never an exception."""
    s = None if text is None else str(text).strip() or None
    amt = _number(amount_wan)
    per = choice(period, PERIOD_ALIASES)
    pay = choice(payment, PAYMENT_ALIASES)
    pct = None
    negotiable = bool(s and "面议" in s)
    if s:
        flat = s.replace(",", "").replace("，", "")
        m = _AMOUNT.search(flat)
        if m and amt is None:
            amt = round(float(m.group(1)) * _UNIT[m.group(2)], 4)
        p = _PCT.search(flat)
        if p:
            pct = float(p.group(1))
        if per is None:
            q = _PER.search(flat)
            if q:
                per = "季度" if q.group(1) == "季" else q.group(1)
            elif "一次" in flat or "买断" in flat:
                per = "一次"
        if pay is None:
            pay = ("提成" if pct is not None or "提成" in flat else
                   "按年" if per == "年" or "按年" in flat else
                   "一次性" if per == "一次" else None)
    if per is None and pay == "一次性":
        per = "一次"
    if pay is None and per == "年" and amt is not None:
        pay = "按年"
    return LicenseFee(amount_wan=amt, period=per, payment=pay, royalty_pct=pct,
                      negotiable=negotiable, text=s)


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if v >= 0 else None
    m = _AMOUNT.search(str(v)) or re.fullmatch(r"\s*" + _NUM + r"\s*", str(v))
    if not m:
        return None
    unit = _UNIT.get(m.group(2), 1.0) if m.re is _AMOUNT else 1.0
    return round(float(m.group(1)) * unit, 4)


def fee_within(fee: dict[str, Any] | LicenseFee | None, budget_wan: float | None) -> bool | None:
    """True when the yearly (or one-off) fee fits the budget; None when either is unknown."""
    if budget_wan is None or fee is None:
        return None
    f = fee if isinstance(fee, LicenseFee) else LicenseFee(**{
        k: fee.get(k) for k in ("amount_wan", "period", "payment", "royalty_pct") if k in fee})
    y = f.yearly_wan
    return None if y is None else y <= budget_wan


__all__ = ["LICENSE_MODES", "LICENSE_MODE_ALIASES", "PAYMENT_MODES", "PERIODS", "LicenseFee",
           "choice", "fee_within", "parse_fee"]
