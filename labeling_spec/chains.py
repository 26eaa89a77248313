"""The industry-chain taxonomy (产业链): an editable YAML data file, validated on load.

``load_taxonomy(path=None)`` reads ``spec/taxonomy.yaml`` (or the given file) and returns a
frozen ``Taxonomy``. Every problem is reported at once, as a ``SpecError`` whose details
list each offending field, so an operator editing the file sees all mistakes in one go.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from patmatch.errors import NotFoundError, SpecError

from labeling_spec.ipc import IpcPattern, compile_patterns, sei_branches
from labeling_spec.spec import SPEC_DIR, read_yaml

_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@dataclass(frozen=True, slots=True)
class IpcRule:
    pattern: str
    weight: float = 1.0
    require_any: tuple[str, ...] = ()

    @property
    def compiled(self) -> IpcPattern:
        return _compiled(self.pattern)


@dataclass(frozen=True, slots=True)
class SeiRef:
    code: str
    weight: float = 0.9
    require_any: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chain:
    id: str
    name_zh: str
    name_en: str
    status: str = "named_chain"
    sei_branches: tuple[SeiRef, ...] = ()
    ipc_rules: tuple[IpcRule, ...] = ()
    exclude_ipc: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def exclusions(self) -> tuple[IpcPattern, ...]:
        return compile_patterns(self.exclude_ipc)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: str
    chains: tuple[Chain, ...]
    name_zh: str = ""
    source_path: str | None = None
    _by_id: dict[str, Chain] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({c.id: c for c in self.chains})

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.chains)

    def chain(self, chain_id: str) -> Chain:
        try:
            return self._by_id[chain_id]
        except KeyError:
            raise NotFoundError(
                f"unknown chain id {chain_id!r}; expected one of: {', '.join(self.ids)}",
                details={"chain": chain_id, "taxonomy_version": self.version},
            ) from None

    def name_of(self, chain_id: str) -> str:
        return self._by_id[chain_id].name_zh if chain_id in self._by_id else chain_id

    def resolve(self, name: str) -> str:
        """A chain id from its id, Chinese name or English name (case and surrounding
        space ignored); ``NotFoundError`` naming the accepted values otherwise."""
        key = str(name).strip()
        if key in self._by_id:
            return key
        for c in self.chains:
            if key in (c.name_zh, c.name_en) or key.lower() in (c.id, c.name_en.lower()):
                return c.id
        raise NotFoundError(
            f"unknown chain {name!r}; expected an id or Chinese name, one of: "
            + "、".join(f"{c.id}（{c.name_zh}）" for c in self.chains),
            details={"chain": str(name), "taxonomy_version": self.version})

    def resolve_many(self, names: Any) -> tuple[str, ...]:
        """``resolve`` each of a list, or of a string split on , ， ; ； | 、."""
        if isinstance(names, str):
            names = [x for x in re.split(r"[,，;；|、]", names) if x.strip()]
        return tuple(dict.fromkeys(self.resolve(n) for n in names or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "name_zh": self.name_zh,
                "chains": [c.to_dict() for c in self.chains]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> Taxonomy:
        return _parse(data, source)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> IpcPattern:
    return IpcPattern.parse(pattern)


def _words(value: Any, where: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{where}: expected a list of non-empty strings, got {value!r}")
        return ()
    return tuple(v.strip() for v in value)


def _weight(value: Any, where: str, errors: list[str], default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        errors.append(f"{where}.weight: expected a number in (0, 1], got {value!r}")
        return default
    return float(value)


def _parse(data: Any, source: str) -> Taxonomy:
    errors: list[str] = []
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with 'version' and 'chains', got {type(data).__name__}",
                        details={"path": source})
    version = data.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        errors.append(f"version: expected a non-empty string, got {version!r}")
    raw_chains = data.get("chains")
    if not isinstance(raw_chains, list) or not raw_chains:
        errors.append(f"chains: expected a non-empty list, got {type(raw_chains).__name__}")
        raw_chains = []
    known_sei = sei_branches()
    chains: list[Chain] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_chains):
        where = f"chains[{i}]"
        if not isinstance(raw, dict):
            errors.append(f"{where}: expected a mapping, got {raw!r}")
            continue
        unknown = set(raw) - {"id", "name_zh", "name_en", "status", "sei_branches", "ipc_rules",
                              "exclude_ipc", "exclude_keywords", "keywords"}
        if unknown:
            errors.append(f"{where}: unknown field(s) {sorted(unknown)}")
        cid = raw.get("id")
        if not isinstance(cid, str) or not _ID.match(cid):
            errors.append(f"{where}.id: expected an ASCII slug like 'battery_storage', got {cid!r}")
            cid = f"<invalid {i}>"
        elif cid in seen:
            errors.append(f"{where}.id: duplicate chain id {cid!r}")
        seen.add(cid)
        where = f"chains[{i}] ({cid})"
        for key in ("name_zh", "name_en"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                errors.append(f"{where}.{key}: expected a non-empty string, got {raw.get(key)!r}")
        refs: list[SeiRef] = []
        for j, ref in enumerate(raw.get("sei_branches") or []):
            w = f"{where}.sei_branches[{j}]"
            ref = {"code": ref} if isinstance(ref, str | int | float) else ref
            code = str(ref.get("code", "")) if isinstance(ref, dict) else ""
            if code not in known_sei:
                errors.append(f"{w}: expected an SEI branch code of the 2021 table "
                              f"(e.g. '5.2'), got {code or ref!r}")
                continue
            refs.append(SeiRef(code, _weight(ref.get("weight"), w, errors, 0.9),
                               _words(ref.get("require_any"), f"{w}.require_any", errors)))
        rules: list[IpcRule] = []
        for j, rule in enumerate(raw.get("ipc_rules") or []):
            w = f"{where}.ipc_rules[{j}]"
            rule = {"pattern": rule} if isinstance(rule, str) else rule
            pattern = rule.get("pattern") if isinstance(rule, dict) else None
            try:
                _compiled(str(pattern))
            except SpecError as exc:
                errors.append(f"{w}.pattern: {exc.message}")
                continue
            rules.append(IpcRule(str(pattern), _weight(rule.get("weight"), w, errors, 1.0),
                                 _words(rule.get("require_any"), f"{w}.require_any", errors)))
        excl = _words(raw.get("exclude_ipc"), f"{where}.exclude_ipc", errors)
        for pattern in excl:
            try:
                _compiled(pattern)
            except SpecError as exc:
                errors.append(f"{where}.exclude_ipc: {exc.message}")
        keywords = _words(raw.get("keywords"), f"{where}.keywords", errors)
        if not keywords:
            errors.append(f"{where}.keywords: expected at least one keyword")
        if not refs and not rules:
            errors.append(f"{where}: expected at least one of sei_branches / ipc_rules")
        chains.append(Chain(
            id=cid, name_zh=str(raw.get("name_zh", "")).strip(), name_en=str(raw.get("name_en", "")).strip(),
            status=str(raw.get("status", "named_chain")), sei_branches=tuple(refs), ipc_rules=tuple(rules),
            exclude_ipc=excl, exclude_keywords=_words(raw.get("exclude_keywords"),
                                                      f"{where}.exclude_keywords", errors),
            keywords=keywords,
        ))
    if errors:
        raise SpecError(
            f"{source}: the taxonomy has {len(errors)} problem(s): " + "; ".join(errors[:5])
            + (" ..." if len(errors) > 5 else ""),
            details={"path": source, "errors": errors},
        )
    return Taxonomy(version=str(version), chains=tuple(chains), name_zh=str(data.get("name_zh", "")),
                    source_path=source)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate the chain taxonomy (default: ``$PATMATCH_HOME/taxonomy.yaml`` when
    the operator has put one there, else ``labeling_spec/spec/taxonomy.yaml``)."""
    from labeling_spec.spec import home_spec_file

    p = Path(path) if path is not None else home_spec_file("taxonomy.yaml") or SPEC_DIR / "taxonomy.yaml"
    if p.is_dir():
        p = p / "taxonomy.yaml"
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns if p.exists() else 0)


@lru_cache(maxsize=16)
def _load_cached(path: str, _mtime: int) -> Taxonomy:
    return _parse(read_yaml(Path(path)), path)
