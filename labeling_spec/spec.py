"""Reading the machine-readable spec files (``labeling_spec/spec/*.yaml``) with clear errors.

Each spec file is a YAML mapping with a ``version``. ``read_yaml`` turns every way a file
can be wrong (missing, unreadable, not YAML, not a mapping) into a ``SpecError`` that
names the file and what was expected; the typed loaders (taxonomy, TRL rules, grading,
extraction patterns, field definitions) validate the content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patmatch.errors import SpecError

SPEC_DIR = Path(__file__).resolve().parent / "spec"
SPEC_FILES: tuple[str, ...] = ("taxonomy.yaml", "fields.yaml", "maturity.yaml", "grading.yaml",
                               "extraction.yaml", "classifier.yaml")


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one spec file; anything but a YAML mapping is a ``SpecError``."""
    import yaml

    if not path.is_file():
        raise SpecError(f"expected a spec file at {path}, found nothing", details={"path": str(path)})
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: expected UTF-8 text ({exc.reason})", details={"path": str(path)}) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{path}: expected valid YAML, got a syntax error{where}: "
                        f"{getattr(exc, 'problem', exc)}", details={"path": str(path)}) from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a YAML mapping at the top level, got {type(data).__name__}",
                        details={"path": str(path)})
    return data


# spec files an operator may put in the data home (``$PATMATCH_HOME/<name>``): adding a
# chain is an edit there and a nightly, never an edit of the installed package
HOME_SPEC_FILES: tuple[str, ...] = ("taxonomy.yaml",)


def home_spec_file(name: str) -> Path | None:
    """``$PATMATCH_HOME/<name>`` when the operator has put one there."""
    if name not in HOME_SPEC_FILES:
        return None
    from patmatch.settings import get_settings

    p = get_settings().home / name
    return p if p.is_file() else None


def spec_path(spec_dir: str | Path | None, name: str) -> Path:
    """A spec file in ``spec_dir``, else the data home's (taxonomy only), else the shipped one."""
    if spec_dir is not None:
        candidate = Path(spec_dir) / name
        if candidate.exists():
            return candidate
    return home_spec_file(name) or SPEC_DIR / name


def require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SpecError(f"{source}: field {key!r}: expected {names}, got {value!r}",
                        details={"path": source, "field": key})
    return value
