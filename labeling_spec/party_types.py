"""Party types (主体类型) of patent holders and transfer parties, inferred from names.

The rule (标引规范 §11, ``README.md``): the first name of a party list is classified, first
match wins —

1. an override in ``spec/party_types.yaml`` (exact name -> type; operators add the holders
   the patterns get wrong, e.g. a university-owned company they know is an SOE);
2. ``university``: 大学 / University / College;
3. ``institute``: 研究院 / 研究所 / 科学院 / 研究中心 / 实验室 (before 学院: 中国科学院 contains
   学院; institutes run as companies, 重庆材料研究院有限公司, are institutes);
4. ``university``: 学院 / 学校;
5. ``soe``: the central SOE groups and the usual local-SOE naming (``SOE_PATTERNS``);
6. ``enterprise``: 公司 / 集团 / 厂 / 企业 / Co. / Ltd ...;
7. ``individual``: 2-4 Chinese characters and no organisation word;
8. otherwise ``other``.

State ownership cannot be read from a name with certainty; ``SOE_PATTERNS`` is a
documented approximation and the override file is the correction path. An ``enterprise``
that is not an SOE is what the transfer statistics count as an SME (中小企业) receiver.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

PARTY_TYPES: tuple[str, ...] = ("university", "institute", "soe", "enterprise", "individual",
                                "other")
PARTY_TYPE_ZH: dict[str, str] = {"university": "高校", "institute": "科研院所", "soe": "国有企业",
                                 "enterprise": "企业", "individual": "个人", "other": "其他"}
OVERRIDES_FILE = Path(__file__).parent / "spec" / "party_types.yaml"

SOE_PATTERNS: tuple[str, ...] = (
    r"^中国(?!科学院|工程物理研究院|农业科学院|医学科学院).{0,12}(集团|公司|有限责任公司)",
    r"^国家(电网|能源|电力投资|管网)",
    r"^国网", r"^南方电网", r"^中国南方电网", r"^中石[油化]", r"^中海油", r"^中核", r"^中广核",
    r"^中车", r"^中铁", r"^中建", r"^中交", r"^中电", r"^中航", r"^中船", r"^中钢", r"^中冶",
    r"^中化", r"^中粮", r"^中铝", r"^中煤", r"^宝武", r"^宝钢", r"^鞍钢", r"^首钢", r"^一汽",
    r"^东风汽车", r"^上汽", r"^航天", r"^兵器", r"^华能", r"^华电", r"^大唐", r"^国电", r"^三峡",
    r"^招商局", r"^华润", r"^保利", r"^中远海运", r"^东方电气", r"^哈尔滨电气", r"^中国商飞",
    r"(国有资产|国资|城投|城建投资|交通投资|交投|产业投资)(集团|控股|经营)",
    r"国有(独资|控股)",
)
_SOE_RE = re.compile("|".join(f"(?:{p})" for p in SOE_PATTERNS))
_UNIVERSITY_RE = re.compile(r"(大学|University|College)", re.IGNORECASE)
_COLLEGE_RE = re.compile(r"(学院|学校)")
_INSTITUTE_RE = re.compile(
    r"(研究院|研究总院|研究所|科学院|研究中心|实验室|Institute|Academy|Laboratory)", re.IGNORECASE
)
_ENTERPRISE_RE = re.compile(r"(公司|集团|厂|企业|株式会社|Co\.|Ltd|Inc|GmbH|Corp)", re.IGNORECASE)
_PERSON_RE = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
_SPLIT = re.compile(r"[;；,，、]")


@functools.lru_cache(maxsize=4)
def load_overrides(path: Path = OVERRIDES_FILE) -> dict[str, str]:
    """name -> party type from the override file; a wrong type is a SpecError, not a guess."""
    import yaml

    from patmatch.errors import SpecError

    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table = data.get("overrides") or {}
    if not isinstance(table, dict):
        raise SpecError(f"{path.name}: 'overrides' must map a name to a type",
                        details={"file": str(path)})
    for name, kind in table.items():
        if kind not in PARTY_TYPES:
            raise SpecError(f"{path.name}: override for {name!r} is {kind!r}; expected one of "
                            f"{', '.join(PARTY_TYPES)}", details={"file": str(path)})
    return {str(k).strip(): str(v) for k, v in table.items()}


def first_party(names: str | None) -> str | None:
    if not names:
        return None
    first = _SPLIT.split(names.strip())[0].strip()
    return first or None


def infer_party_type(names: str | None, overrides: dict[str, str] | None = None) -> str | None:
    """The type of the first party in ``names`` (None for no name); see the module rule."""
    first = first_party(names)
    if first is None:
        return None
    table = load_overrides() if overrides is None else overrides
    if first in table:
        return table[first]
    if _UNIVERSITY_RE.search(first):
        return "university"
    if _INSTITUTE_RE.search(first):
        return "institute"
    if _COLLEGE_RE.search(first):
        return "university"
    if _SOE_RE.search(first):
        return "soe"
    if _ENTERPRISE_RE.search(first):
        return "enterprise"
    if _PERSON_RE.match(first):
        return "individual"
    return "other"


__all__ = ["OVERRIDES_FILE", "PARTY_TYPES", "PARTY_TYPE_ZH", "SOE_PATTERNS", "first_party",
           "infer_party_type", "load_overrides"]
