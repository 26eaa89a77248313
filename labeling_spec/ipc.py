"""IPC codes: normalisation, pattern matching, Chinese titles and the SEI concordance.

Pattern semantics (the CNIPA 2021 table and ``spec/taxonomy.yaml`` share them):
``H01M*`` = the subclass and everything below; ``H01M10*`` = main group 10 and all its
subgroups (never H01M100); ``H01M10/05*`` = subgroups whose digits start with 05 (the
usual approximation of IPC dot-level hierarchy); ``H01M10/0525`` = exactly that code; a
bare main group ``H01M10`` = the whole group.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from patmatch.errors import DependencyError, SpecError

TABLES_DIR = Path(__file__).resolve().parent / "tables"

_CODE = re.compile(r"^([A-H])(\d{2})?([A-Z])?(?:(\d{1,4})(?:/(\d{1,6}))?)?$")
_FIXED = re.compile(r"^([A-H]\d{2}[A-Z])(\d{4})(\d{6})$")  # H01M0010052500 (fixed-width)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True, order=True)
class IpcCode:
    """A parsed IPC symbol down to whatever level it was given."""

    section: str
    klass: str = ""      # two digits
    subclass: str = ""   # one letter
    group: str = ""      # main group digits, no leading zeros
    subgroup: str = ""   # subgroup digits as written (00, 0525)

    def __str__(self) -> str:
        s = f"{self.section}{self.klass}{self.subclass}{self.group}"
        return f"{s}/{self.subgroup}" if self.subgroup else s

    @property
    def subclass_code(self) -> str:
        return f"{self.section}{self.klass}{self.subclass}"

    @property
    def main_group(self) -> str:
        return f"{self.subclass_code}{self.group}/00" if self.group else self.subclass_code


def parse_ipc(raw: str) -> IpcCode | None:
    """Parse one IPC symbol; None when it is not recognisable as IPC.

    Accepts ``H01M 10/0525``, ``H01M10/0525(2010.01)``, ``h01m10/0525``, ``H01M0010052500``,
    full-width characters and a trailing ``*`` is NOT accepted here (see ``IpcPattern``).
    """
    if not raw:
        return None
    text = raw.strip().translate(_FULLWIDTH).upper()
    text = re.sub(r"[(（][^)）]*[)）]\s*$", "", text)  # version suffix: (2010.01)
    text = _SPACES.sub("", text).rstrip(";,.")
    fixed = _FIXED.match(text)
    if fixed:
        sub, grp, sg = fixed.groups()
        sg = sg.rstrip("0")
        sg = sg if len(sg) >= 2 else sg.ljust(2, "0")
        text = f"{sub}{int(grp)}/{sg}"
    m = _CODE.match(text)
    if not m:
        return None
    section, klass, subclass, group, subgroup = (g or "" for g in m.groups())
    if (group and not subclass) or (subclass and not klass):
        return None
    if group:
        group = str(int(group))
    return IpcCode(section, klass, subclass, group, subgroup)


def normalize_ipc(raw: str) -> str | None:
    code = parse_ipc(raw)
    return str(code) if code else None


def split_ipc_field(value: object) -> tuple[str, ...]:
    """An IPC cell (``"H01M10/0525; H01M4/58"``, a list, None) -> normalised codes, order kept."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else re.split(r"[;；,，|\s]+(?=[A-Ha-h])", str(value))
    out: list[str] = []
    for item in items:
        norm = normalize_ipc(str(item))
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}


@dataclass(frozen=True, slots=True)
class IpcPattern:
    """One pattern as written in a rule (``H01M*``, ``H01M10/05*``, ``G06F3/041``)."""

    text: str
    code: IpcCode
    star: bool

    @classmethod
    def parse(cls, text: str) -> IpcPattern:
        raw = text.strip()
        star = raw.endswith("*")
        code = parse_ipc(raw.rstrip("*"))
        if code is None:
            raise SpecError(
                f"expected an IPC pattern like 'H01M*', 'H01M10*' or 'H01M10/0525', got {text!r}",
                details={"pattern": text},
            )
        return cls(raw, code, star)

    def matches(self, code: IpcCode) -> bool:
        p = self.code
        if not p.group:  # section / class / subclass level: prefix on the subclass symbol
            return code.subclass_code.startswith(p.subclass_code) and (
                self.star or p.subclass == "" or code.subclass_code == p.subclass_code
            )
        if code.subclass_code != p.subclass_code or code.group != p.group:
            return False
        if not p.subgroup:
            return True
        if self.star:
            return p.subgroup == "00" or code.subgroup.startswith(p.subgroup)
        return code.subgroup == p.subgroup

    def __str__(self) -> str:
        return self.text


def compile_patterns(texts: list[str] | tuple[str, ...]) -> tuple[IpcPattern, ...]:
    return tuple(IpcPattern.parse(t) for t in texts if t and t.strip())


def any_match(patterns: tuple[IpcPattern, ...], code: IpcCode) -> IpcPattern | None:
    for p in patterns:
        if p.matches(code):
            return p
    return None


# --- vendored tables -------------------------------------------------------------------
def _table(name: str) -> Path:
    path = TABLES_DIR / name
    if not path.is_file():
        raise DependencyError(
            f"expected the vendored table {path}; regenerate it with "
            "`python -m labeling_spec.maintenance.vendor_tables`",
            details={"path": str(path)},
        )
    return path


@lru_cache(maxsize=1)
def ipc_titles() -> dict[str, str]:
    """Code (normalised) -> Chinese title, for every vendored IPC level."""
    out: dict[str, str] = {}
    with gzip.open(_table("ipc_zh_titles.tsv.gz"), "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            code, _level, title = line.rstrip("\n").split("\t", 2)
            norm = normalize_ipc(code)
            if norm:
                out[norm] = title
    return out


def ipc_title(code: str) -> str | None:
    """Best Chinese title for a code: itself, else its main group, else its subclass."""
    parsed = parse_ipc(code)
    if parsed is None:
        return None
    titles = ipc_titles()
    for key in (str(parsed), parsed.main_group, parsed.subclass_code):
        if key in titles:
            return titles[key]
    return None


@dataclass(frozen=True, slots=True)
class SeiRule:
    sei_code: str
    sei_name: str
    sei_top_name: str
    rule_idx: int
    patterns: tuple[IpcPattern, ...]
    exclusions: tuple[IpcPattern, ...]
    keywords: tuple[str, ...]

    def match(self, code: IpcCode) -> IpcPattern | None:
        """The pattern that puts ``code`` in this rule, or None (exclusions win)."""
        hit = any_match(self.patterns, code)
        if hit is None or any_match(self.exclusions, code) is not None:
            return None
        return hit


@lru_cache(maxsize=1)
def sei_rules() -> tuple[SeiRule, ...]:
    out: list[SeiRule] = []
    with _table("sei_ipc_2021_rules.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            split = lambda s: [x for x in (s or "").split(",") if x.strip()]  # noqa: E731
            kws = tuple(k for k in re.split(r"[；;、，,]", row.get("keywords") or "") if k.strip())
            out.append(SeiRule(
                sei_code=row["sei_code"], sei_name=row["sei_name"],
                sei_top_name=row["sei_top_name"], rule_idx=int(row["rule_idx"] or 0),
                patterns=compile_patterns(split(row["ipc_patterns"])),
                exclusions=compile_patterns(split(row["ipc_exclusions"])),
                keywords=kws,
            ))
    return tuple(out)


@lru_cache(maxsize=1)
def sei_branches() -> dict[str, str]:
    """SEI branch code -> name (e.g. ``"5.2" -> "新能源汽车装置、配件制造"``)."""
    return {r.sei_code: r.sei_name for r in sei_rules()}


@lru_cache(maxsize=1)
def _sei_index() -> dict[str, tuple[SeiRule, ...]]:
    """Rules keyed by every symbol prefix (section, class, subclass) their patterns start at,
    so a lookup scans a handful of rules instead of all 303."""
    index: dict[str, list[SeiRule]] = {}
    for rule in sei_rules():
        for key in {p.code.subclass_code for p in rule.patterns}:
            bucket = index.setdefault(key, [])
            if rule not in bucket:
                bucket.append(rule)
    return {k: tuple(v) for k, v in index.items()}


def sei_of(code: str | IpcCode) -> list[tuple[str, SeiRule, IpcPattern]]:
    """Every SEI branch an IPC code falls in: (branch code, rule, matching pattern)."""
    parsed = parse_ipc(code) if isinstance(code, str) else code
    if parsed is None:
        return []
    out: list[tuple[str, SeiRule, IpcPattern]] = []
    seen: set[str] = set()
    index = _sei_index()
    sub = parsed.subclass_code
    keys = (sub[:1], sub[:3], sub)
    order = {id(r): i for i, r in enumerate(sei_rules())}
    candidates = sorted({id(r): r for k in keys for r in index.get(k, ())}.values(), key=lambda r: order[id(r)])
    for rule in candidates:
        if rule.sei_code in seen:
            continue
        hit = rule.match(parsed)
        if hit is not None:
            seen.add(rule.sei_code)
            out.append((rule.sei_code, rule, hit))
    return out
