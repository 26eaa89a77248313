"""Addresses -> province / city / district with a maintained administrative-division library.

jionlp's ``parse_location`` (China's 2020-era division table, maintained on PyPI) was
chosen over cpca by measurement on real-style addresses: ``benchmarks/results/
address_parsers.md`` (``python -m benchmarks.address_parsers``). Results are cached per
address: transfer files repeat the same party addresses thousands of times.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from dataclasses import dataclass

_POSTCODE = re.compile(r"^\s*\d{6}\s*")
# names like 北京市 / 上海市 come back as both province and city; the report shows them once
MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")


@dataclass(frozen=True)
class Region:
    province: str | None
    city: str | None
    district: str | None

    @property
    def resolved(self) -> bool:
        return bool(self.province or self.city or self.district)

    def label(self) -> str:
        return "".join(dict.fromkeys(p for p in (self.province, self.city, self.district) if p))


UNRESOLVED = Region(None, None, None)


@functools.lru_cache(maxsize=1)
def _parser():  # noqa: ANN202 - jionlp's function
    # jionlp prints a banner on import: keep it out of CLI output (JSON on stdout)
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp
    return jionlp.parse_location


# the administrative head of an address (江苏省 常州市 武进区 | 滆湖中路21号): only the head
# decides the region, so addresses that differ in street and number share one parse
_UNIT = re.compile(r"[^路街道号弄巷\d\s,，]{1,12}?(?:自治州|自治县|自治区|特别行政区|地区|省|市|区|县|旗|盟)")


def resolve_region(address: str | None) -> Region:
    """The region of an address; ``UNRESOLVED`` when nothing in it names a division."""
    if not address or not address.strip():
        return UNRESOLVED
    text = _POSTCODE.sub("", address.strip())[:200]
    pos = 0
    for _ in range(3):
        m = _UNIT.match(text, pos)
        if m is None:
            break
        pos = m.end()
    return _resolve(text[:pos] or text)


@functools.lru_cache(maxsize=262_144)
def _resolve(text: str) -> Region:
    if not text:
        return UNRESOLVED
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            got = _parser()(text)
    except Exception:  # noqa: BLE001 - a library failure on one odd string is "unresolved"
        return UNRESOLVED
    if not got:
        return UNRESOLVED
    return Region(got.get("province") or None, got.get("city") or None, got.get("county") or None)


__all__ = ["MUNICIPALITIES", "UNRESOLVED", "Region", "resolve_region"]
