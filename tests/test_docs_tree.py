"""The module tree of docs/architecture.md lists exactly the modules that exist: every
Python module of the packages (and every test folder), no more, no fewer, each with a
purpose. A new module without its line, or a line for a module that moved, fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("patmatch", "indexing", "labeling_spec", "matcher", "api", "benchmarks")
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.-]+(?:\.py|/))(?:\s+(?P<purpose>\S.*))?$")


def tree_block(doc: str) -> list[str]:
    head = doc.index("## The module tree")
    start = doc.index("```text\n", head) + len("```text\n")
    return doc[start:doc.index("```", start)].splitlines()


def listed(lines: list[str]) -> tuple[set[str], set[str], list[str]]:
    """(modules, folders, problems) named by the tree's indented lines."""
    modules: set[str] = set()
    folders: set[str] = set()
    problems: list[str] = []
    stack: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = ENTRY.match(line)
        if m is None or len(m["indent"]) % 2:
            problems.append(f"line {n} is not '<2k spaces><name.py or folder/>  <purpose>': {line!r}")
            continue
        depth = len(m["indent"]) // 2
        if depth > len(stack):
            problems.append(f"line {n} is indented deeper than its folder: {line!r}")
            continue
        del stack[depth:]
        path = "".join(stack) + m["name"]
        if m["name"].endswith("/"):
            stack.append(m["name"])
            folders.add(path)
        else:
            if not m["purpose"]:
                problems.append(f"line {n}: {path} has no purpose")
            if path in modules:
                problems.append(f"line {n}: {path} is listed twice")
            modules.add(path)
    return modules, folders, problems


def existing() -> tuple[set[str], set[str]]:
    modules = {p.relative_to(ROOT).as_posix() for top in PACKAGES
               for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts}
    test_folders = {p.parent.relative_to(ROOT).as_posix() + "/"
                    for p in (ROOT / "tests").rglob("*.py") if "__pycache__" not in p.parts}
    return modules, test_folders


def test_the_module_tree_lists_every_module_and_nothing_else() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    modules, folders, problems = listed(tree_block(doc))
    assert not problems, "\n".join(problems)
    have, test_folders = existing()
    listed_tests = {f for f in folders if f.startswith("tests/")}
    assert not {m for m in modules if m.startswith("tests/")}, "tests/ is listed by folder only"
    missing = sorted(have - modules) + sorted(test_folders - listed_tests)
    gone = sorted(modules - have) + sorted(listed_tests - test_folders)
    assert not missing, f"modules not in the tree of docs/architecture.md: {missing}"
    assert not gone, f"the tree of docs/architecture.md lists what does not exist: {gone}"
    assert {f.split("/")[0] for f in folders} == {*PACKAGES, "tests"}


def test_the_tree_parser_catches_a_missing_or_stale_line() -> None:
    """The check above cannot pass vacuously: the parser sees nesting and purposes."""
    lines = ["indexing/   records in", "  build/    builds", "    stages.py  the stages",
             "  records.py", "matcher/  ranks", "  x.py  y"]
    modules, folders, problems = listed(lines)
    assert modules == {"indexing/build/stages.py", "indexing/records.py", "matcher/x.py"}
    assert folders == {"indexing/", "indexing/build/", "matcher/"}
    assert problems == ["line 4: indexing/records.py has no purpose"]
    assert listed(["a/  x", "      deep.py  too deep"])[2]
