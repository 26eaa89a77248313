"""Every file or folder path named in docs/architecture.md exists (a move that forgets the
map fails here)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATH = re.compile(r"`([A-Za-z_][\w./-]*(?:\.py|/))`")


def test_paths_in_the_architecture_doc_exist() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    named = {p for p in PATH.findall(doc) if "/" in p}
    assert len(named) >= 40  # the doc names its modules by path
    # the moves table's "old" column names paths that are gone on purpose
    moves = doc[doc.index("## Module moves of issue 12"):]
    old = {p for line in moves.splitlines() if line.startswith("| `")
           for p in PATH.findall(line.split("|")[1])}
    missing = sorted(p for p in named - old if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
