"""Training and generation are separate from what runs in production (issue 12).

``indexing.training`` (encoder distillation, the toy test encoder, demo data) may be used by
the explicit commands (``api.cli``), the benchmarks and the tests, never by the engine
itself: loading an encoder must not be able to train one. Parsed with ast, lazy imports
inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("patmatch", "labeling_spec", "indexing", "matcher", "api")
ALLOWED_DIRS = (ROOT / "indexing" / "training", ROOT / "api" / "cli")


def _imported_modules(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


def test_production_never_imports_training_code() -> None:
    offenders = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            if any(path.is_relative_to(d) for d in ALLOWED_DIRS):
                continue
            offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in _imported_modules(path)
                          if name == "indexing.training" or name.startswith("indexing.training.")]
    assert not offenders, "production code imports training code:\n" + "\n".join(offenders)


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    """The parser counts an import inside a function (the shape the old bug had)."""
    src = tmp_path / "m.py"
    src.write_text("def load():\n    from indexing.training.distill import build_default_model\n", "utf-8")
    assert "indexing.training.distill" in _imported_modules(src)
