"""Every Python file of the project is at most 400 lines (issue 12): a file past that is
split by role (config / stages / pipeline), never into a part that imports back."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("patmatch", "indexing", "labeling_spec", "matcher", "api", "benchmarks", "tests")
MAX_LINES = 400


def line_counts() -> dict[str, int]:
    return {p.relative_to(ROOT).as_posix(): len(p.read_bytes().splitlines())
            for top in FOLDERS for p in (ROOT / top).rglob("*.py")
            if "__pycache__" not in p.parts}


def test_every_module_is_at_most_400_lines() -> None:
    counts = line_counts()
    assert len(counts) > 300  # the walk found the project, not an empty folder
    assert counts["tests/test_module_size.py"] == len(Path(__file__).read_bytes().splitlines())
    long = {path: n for path, n in sorted(counts.items()) if n > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them by role): {long}"
