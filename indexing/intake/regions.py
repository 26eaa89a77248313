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


@functools.lru_cache(maxsize=262_144)
def resolve_region(address: str | None) -> Region:
    """The region of an address; ``UNRESOLVED`` when nothing in it names a division."""
    if not address or not address.strip():
        return UNRESOLVED
    text = _POSTCODE.sub("", address.strip())[:200]
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
