"""Validate labels (dicts, e.g. read back from a store or edited by a reviewer) against
``spec/fields.yaml`` and the taxonomy. Returns every problem; ``check_labels`` raises."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from patmatch.errors import NotFoundError, RecordValidationError, SpecError

from labeling_spec.chains import Taxonomy, load_taxonomy
from labeling_spec.spec import read_yaml, spec_path

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": (int, float), "bool": bool}


@lru_cache(maxsize=8)
def load_fields(path: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    p = spec_path(None, "fields.yaml") if path is None else __import__("pathlib").Path(path)
    data = read_yaml(p)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for side in ("patent", "demand"):
        defs = data.get(side)
        if not isinstance(defs, dict) or not defs:
            raise SpecError(f"{p}: expected a mapping '{side}' of field definitions", details={"path": str(p)})
        for name, d in defs.items():
            if not isinstance(d, dict) or "type" not in d or "zh" not in d:
                raise SpecError(f"{p}: {side}.{name}: expected {{zh, type, ...}}, got {d!r}",
                                details={"path": str(p), "field": f"{side}.{name}"})
        out[side] = defs
    return out


def validate_labels(labels: dict[str, Any], side: str, *, taxonomy: Taxonomy | None = None) -> list[str]:
    """Problems of one labels dict (``side`` = "patent" or "demand"); [] when valid."""
    defs = load_fields()[side]
    tax = taxonomy or load_taxonomy()
    problems: list[str] = []
    for name, d in defs.items():
        v = labels.get(name)
        if v is None:
            if d.get("required"):
                problems.append(f"{name}: required ({d['zh']})")
            continue
        t = d["type"]
        if t in _TYPES and (not isinstance(v, _TYPES[t]) or (t != "bool" and isinstance(v, bool))):
            problems.append(f"{name}: expected {t}, got {v!r}")
            continue
        if t == "enum" and v not in d.get("allowed", []):
            problems.append(f"{name}: expected one of {d.get('allowed')}, got {v!r}")
        if t == "list[str]":
            if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
                problems.append(f"{name}: expected a list of strings, got {v!r}")
                continue
            if d.get("allowed_from") == "taxonomy":  # an id or a Chinese name, as everywhere
                allowed = set(tax.ids)
                bad = [x for x in v if not _is_chain(tax, x)]
            else:
                allowed = set(d.get("allowed") or [])
                bad = [x for x in v if allowed and x not in allowed]
            if bad:
                problems.append(f"{name}: unknown value(s) {bad}; expected from {sorted(allowed)}")
        if t.startswith("map") and not isinstance(v, dict):
            problems.append(f"{name}: expected a mapping, got {v!r}")
        lo_hi = d.get("range")
        if lo_hi and isinstance(v, int | float) and not lo_hi[0] <= v <= lo_hi[1]:
            problems.append(f"{name}: expected a value in {lo_hi}, got {v!r}")
        if lo_hi and isinstance(v, dict):
            bad = {k: s for k, s in v.items() if not isinstance(s, int | float) or not lo_hi[0] <= s <= lo_hi[1]}
            if bad:
                problems.append(f"{name}: expected scores in {lo_hi}, got {bad}")
        if d.get("pattern") and isinstance(v, str) and not re.match(d["pattern"], v):
            problems.append(f"{name}: expected the format {d['pattern']}, got {v!r}")
    return problems


def _is_chain(tax: Taxonomy, name: str) -> bool:
    try:
        tax.resolve(name)
    except NotFoundError:
        return False
    return True


LIST_SEPARATOR = "；"  # how ``patmatch label`` joins a list into one table cell
_TRUE, _FALSE = ("true", "1", "是", "yes"), ("false", "0", "否", "no")


def labels_from_cells(row: dict[str, Any], side: str) -> dict[str, Any]:
    """A label row read back from a table (CSV/XLSX cells are text; Parquet keeps numbers)
    turned into label values by the spec's field types, the inverse of how ``patmatch
    label`` flattens them: lists joined with ；, mappings as JSON, empty cells as missing.
    A cell that does not convert is kept as it is, so ``validate_labels`` names it."""
    import json

    defs = load_fields()[side]
    out: dict[str, Any] = {}
    for name, v in row.items():
        d = defs.get(name)
        if isinstance(v, str):
            v = v.strip()
        if v is None or v == "":
            out[name] = None
            continue
        if d is None or not isinstance(v, str):
            out[name] = v
            continue
        t = d["type"]
        if t == "list[str]":
            if v.startswith("["):
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    pass
            if isinstance(v, str):
                v = [x.strip() for x in v.split(LIST_SEPARATOR) if x.strip()]
        elif t.startswith("map"):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                pass
        elif t == "int" and re.fullmatch(r"[+-]?\d+", v):
            v = int(v)
        elif t == "float" and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", v):
            v = float(v)
        elif t == "bool" and v.lower() in _TRUE + _FALSE:
            v = v.lower() in _TRUE
        out[name] = v
    return out


def check_labels(labels: dict[str, Any], side: str, *, taxonomy: Taxonomy | None = None) -> None:
    problems = validate_labels(labels, side, taxonomy=taxonomy)
    if problems:
        raise RecordValidationError(
            f"labels of {labels.get('record_id')!r} do not follow the spec: " + "; ".join(problems),
            details={"record_id": labels.get("record_id"), "problems": problems})
