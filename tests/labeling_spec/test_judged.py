"""The hand judgements of problem/means/effect/chain (labeling_spec/eval/extraction_judged.tsv):
the file parses, covers >= 50 patents and >= 50 demands, the figures in the README are the
ones the script computes, and (with ../shared/data) no judged record's labels changed since."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labeling_spec.judged import JUDGED, figures, main, read_judgements, stale, to_markdown
from patmatch.errors import FileFormatError

README = Path(__file__).resolve().parents[2] / "labeling_spec" / "README.md"


def test_file_parses_and_covers_enough_records() -> None:
    rows = read_judgements()
    assert sum(r["kind"] == "patent" for r in rows) >= 50
    assert sum(r["kind"] == "demand" for r in rows) >= 50
    text = JUDGED.read_text(encoding="utf-8")
    # ids, codes and short notes only: no corpus text copied in
    assert max(len(r.get("note") or "") for r in rows) <= 100
    assert len(text) < 12_000


def test_readme_figures_match_the_script() -> None:
    block = re.search(r"<!-- judged:begin -->\n(.*?)\n<!-- judged:end -->",
                      README.read_text(encoding="utf-8"), re.S)
    assert block, "README lost the judged figures block"
    assert block.group(1).strip() == to_markdown(figures(read_judgements())).strip()


def test_figures_arithmetic(tmp_path: Path) -> None:
    p = tmp_path / "j.tsv"
    p.write_text("# c\nkind\tid\tproblem\tmeans\teffect\tchain\tdigest\tnote\n"
                 "patent\ta\tC\tP\tM\tN\t0\t\npatent\tb\tW\tC\tX\tC\t0\tx\n", encoding="utf-8")
    f = figures(read_judgements(p))["patent"]
    assert f["problem"]["precision"] == 0.5 and f["problem"]["recall"] == 0.5
    assert f["means"]["precision"] == 0.5 and f["means"]["lenient"] == 1.0
    assert f["effect"]["precision"] == 0.0 and f["effect"]["recall"] == 0.0
    assert figures(read_judgements(p))["demand"]["chain"]["precision"] is None
    assert main([str(p)]) == 0


@pytest.mark.parametrize("body", [
    "patent\ta\tC\tP\tQ\tN\t0\t\n",          # unknown code
    "robot\ta\tC\tP\tN\tN\t0\t\n",           # unknown kind
    "patent\t\tC\tP\tN\tN\t0\t\n",           # no id
    "patent\ta\tC\tC\tC\tC\t0\t\npatent\ta\tC\tC\tC\tC\t0\t\n",  # judged twice
    "\x00\x01garbage\n",
])
def test_garbage_file_is_refused(tmp_path: Path, body: str) -> None:
    p = tmp_path / "bad.tsv"
    p.write_text("kind\tid\tproblem\tmeans\teffect\tchain\tdigest\tnote\n" + body, encoding="utf-8")
    with pytest.raises(FileFormatError):
        read_judgements(p)


def test_judged_labels_are_current(shared_data: Path) -> None:
    """A rule change that alters a judged record makes its judgement stale: re-judge those
    records (python -m labeling_spec.judged --stale DIR) and update the README figures."""
    assert stale(read_judgements(), shared_data) == []
