"""Demand-side fields from what the enterprise wrote: budget, cooperation mode, required
TRL, deadline. A value the form already carries wins; the text is the fallback."""

from __future__ import annotations

import re

COOPERATION_MODES = ("转让", "许可", "合作开发", "其他")
_NUM = r"(\d+(?:\.\d+)?)"
_RANGE = re.compile(_NUM + r"\s*(?:[-~～至到]\s*" + _NUM + r")?\s*(亿元|亿|万元|万|千元|元)")
_UNIT = {"亿元": 10000.0, "亿": 10000.0, "万元": 1.0, "万": 1.0, "千元": 0.1, "元": 0.0001}


def parse_budget(text: str | None) -> tuple[float | None, float | None]:
    """Budget in 万元 as (min, max); ``面议``/nothing -> (None, None)."""
    if not text:
        return None, None
    m = _RANGE.search(str(text).replace(",", "").replace("，", "") if re.search(r"\d,\d{3}", str(text)) else str(text))
    if not m:
        return None, None
    unit = _UNIT[m.group(3)]
    lo = round(float(m.group(1)) * unit, 4)
    hi = round(float(m.group(2)) * unit, 4) if m.group(2) else lo
    return lo, hi


_MODE_CUES = (
    ("合作开发", ("合作开发", "联合开发", "联合攻关", "技术合作", "共同开发", "委托开发", "产学研合作")),
    ("许可", ("许可", "授权使用")),
    ("转让", ("转让", "购买技术", "买断", "收购专利", "技术购买")),
)


def cooperation_mode(declared: str | None, text: str) -> str | None:
    if declared:
        d = declared.strip()
        for mode in COOPERATION_MODES:
            if mode in d:
                return mode
        for mode, cues in _MODE_CUES:
            if any(c in d for c in cues):
                return mode
        return "其他"
    for mode, cues in _MODE_CUES:
        if any(c in (text or "") for c in cues):
            return mode
    return None


_TRL_CUES = ((8, ("量产", "批量生产", "产业化", "规模化生产")), (6, ("中试", "工程化", "示范")),
             (5, ("样机", "原型")), (4, ("小试", "实验室")))


def required_trl(declared: object, text: str) -> int | None:
    if isinstance(declared, int) and 1 <= declared <= 9:
        return declared
    for level, cues in _TRL_CUES:
        if any(c in (text or "") for c in cues):
            return level
    return None


_DATE = re.compile(r"(20\d{2})\s*[年\-/.]\s*(\d{1,2})(?:\s*[月\-/.]\s*(\d{1,2})日?)?")


def deadline(declared: str | None, text: str) -> str | None:
    if declared:
        return str(declared)[:10]
    m = re.search(r"(?:截止|之前|前完成|期限|完成时间|交付)[^。]{0,12}", text or "")
    window = (text or "")[max(0, m.start() - 16): m.end()] if m else ""
    d = _DATE.search(window)
    if not d:
        return None
    y, mo, day = int(d.group(1)), int(d.group(2)), int(d.group(3) or 0)
    if not 1 <= mo <= 12:
        return None
    if not day:
        import calendar

        day = calendar.monthrange(y, mo)[1]
    return f"{y:04d}-{mo:02d}-{min(day, 28 if mo == 2 else day):02d}"
