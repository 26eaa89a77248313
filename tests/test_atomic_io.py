"""The one atomic-write module and the one table writer (patmatch.atomic_io, patmatch.table_io)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import polars as pl
import pytest

from patmatch import atomic_io
from patmatch.atomic_io import (PRIVATE, atomic_open, atomic_path, atomic_rename,
                                atomic_write_bytes, atomic_write_json, atomic_write_text)
from patmatch.errors import InputError
from patmatch.table_io import UTF8_BOM, write_table, write_workbook

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("patmatch", "labeling_spec", "indexing", "matcher", "api", "benchmarks")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_land_whole_with_the_requested_mode(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a" / "t.txt", "专利\n")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01", mode=PRIVATE)
    atomic_write_json(tmp_path / "c.json", {"名": [1, 2]})
    with atomic_open(tmp_path / "d.tsv", newline="") as fh:
        fh.write("a\tb\n")
    assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "专利\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert '"名"' in (tmp_path / "c.json").read_text(encoding="utf-8")
    assert _mode(tmp_path / "b.bin") == 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(tmp_path / "c.json") == 0o666 & ~umask  # like open(): not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.bin", "c.json", "d.tsv"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise RuntimeError("crash mid-write")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_fsync_file_then_rename_then_fsync_dir(tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_io.os, "fsync", fsync)
    monkeypatch.setattr(atomic_io.os, "replace", replace)
    atomic_write_text(tmp_path / "x.txt", "x")
    assert events == ["fsync-file", "rename", "fsync-dir"]
    events.clear()
    (tmp_path / "dir").mkdir()
    atomic_rename(tmp_path / "dir", tmp_path / "moved")
    assert events == ["rename", "fsync-dir"]


def test_one_table_writer(tmp_path: Path) -> None:
    df = pl.DataFrame({"专利": ["CN1", "CN2"], "score": [0.5, 0.25]})
    csv = write_table(df, tmp_path / "t.csv")
    assert csv.read_bytes().startswith(UTF8_BOM)  # Excel on Chinese Windows: no mojibake
    assert pl.read_csv(csv).to_dicts()[0]["score"] == 0.5
    assert pl.read_parquet(write_table(df, tmp_path / "t.parquet", mode=PRIVATE)).equals(df)
    assert _mode(tmp_path / "t.parquet") == 0o600
    xlsx = write_table(df, tmp_path / "t.xlsx", sheet="一个很长很长很长很长很长很长很长很长的工作表名称超过三十一")
    assert pl.read_excel(xlsx).height == 2
    book = write_workbook(tmp_path / "b.xlsx", {"a": df, "b": df.head(1)})
    assert pl.read_excel(book, sheet_name="b").height == 1
    with pytest.raises(InputError, match=r"\.parquet, \.csv, \.xlsx"):
        write_table(df, tmp_path / "t.txt")


def test_no_other_module_renames_temp_files_itself() -> None:
    """Every temp + rename goes through patmatch.atomic_io (it fsyncs; the copies did not)."""
    # (keys created once with mkstemp + link(2) are fine: link never replaces a key)
    pattern = re.compile(r"\bos\.replace\(|\.replace\(tmp|\btmp\.rename\(")
    allowed = {"patmatch/atomic_io.py"}
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in allowed and pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert not offenders, f"write through patmatch.atomic_io instead: {offenders}"
