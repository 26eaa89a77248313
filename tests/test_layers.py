"""Imports go one way: api -> matcher -> indexing -> labeling_spec -> patmatch.{errors,settings,config}.

``api.cli`` and ``benchmarks`` are edges and may import anything. Parsed with ast, so
lazy imports inside functions count too (a lazy upward import is still an upward import).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# package -> packages it may import from the project
ALLOWED: dict[str, set[str]] = {
    "patmatch": set(),
    "labeling_spec": {"patmatch"},
    "indexing": {"patmatch", "labeling_spec"},
    "matcher": {"patmatch", "labeling_spec", "indexing"},
    "api": {"patmatch", "labeling_spec", "indexing", "matcher"},
    "benchmarks": {"patmatch", "labeling_spec", "indexing", "matcher", "api"},
    "api.cli": {"patmatch", "labeling_spec", "indexing", "matcher", "api", "benchmarks"},
}
PROJECT = {"patmatch", "indexing", "matcher", "labeling_spec", "api", "benchmarks"}


def _layer_of_module(name: str) -> str | None:
    if name == "api.cli" or name.startswith("api.cli."):
        return "api.cli"
    top = name.split(".")[0]
    return top if top in PROJECT else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names if node.module == "patmatch"]
    return out


def test_imports_go_one_way() -> None:
    violations: list[str] = []
    for package, allowed in ALLOWED.items():
        files = sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
        if package == "api":
            files = [f for f in files if "cli" not in f.relative_to(ROOT / "api").parts]
        for path in files:
            for name in _imports(path):
                layer = _layer_of_module(name)
                if layer is None or layer == package:
                    continue
                if layer not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {name} ({layer})")
    assert not violations, "upward imports:\n" + "\n".join(violations)
