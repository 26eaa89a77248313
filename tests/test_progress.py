"""Progress bars on ingest, label and nightly: counted records with rate and ETA on a
terminal, nothing at all on a pipe (cron, CI, ``| tee``)."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from patmatch.progress import ProgressBar, is_terminal

ROOT = Path(__file__).resolve().parent.parent


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(bar: ProgressBar) -> None:
    with bar:
        bar.grow(1000)  # the first file is read: 1000 rows known
        bar(500)
        bar.grow(500)   # a second file: the total grows
        bar(1000)


def test_fake_terminal_shows_count_rate_and_eta() -> None:
    stream = FakeTTY()
    bar = ProgressBar(0, "入库 专利", stream=stream)
    _drive(bar)
    out = stream.getvalue()
    assert bar.n == 1500 and "入库 专利" in out
    assert "1500/1500" in out and "条/s" in out  # count and rate
    assert "<" in out  # elapsed<remaining: the ETA field


def test_pipe_gets_nothing() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as stream:
        assert not is_terminal(stream)
        bar = ProgressBar(0, "入库 专利", stream=stream)
        _drive(bar)
        assert bar.n == 1500  # still counted, only not drawn
    with os.fdopen(read_fd, "rb") as r:
        assert r.read() == b""


def _patents_csv(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "abstract"])
        for i in range(n):
            w.writerow([f"CN{100000 + i}A", f"一种锂电池负极材料{i}",
                        f"本发明公开了一种锂电池负极材料，解决了循环寿命短的问题，提高了容量{i}。"])
    return path


def _cli(args: list[str], home: Path, *, tty: bool) -> str:
    """Run ``patmatch ARGS`` with stderr on a pseudo-terminal or a pipe; its stderr."""
    env = {**os.environ, "PATMATCH_HOME": str(home), "COLUMNS": "120"}
    cmd = [sys.executable, "-c", "from api.cli import main; main()", *args]
    if not tty:
        r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=120, check=True)
        return r.stderr.decode("utf-8")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 columns
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_ingest_counts_records_on_a_terminal_and_is_quiet_on_a_pipe(tmp_path: Path) -> None:
    src = _patents_csv(tmp_path / "p.csv", 1200)  # more than one progress step (500 rows)
    on_tty = _cli(["ingest", "patents", str(src)], tmp_path / "home1", tty=True)
    assert "入库 专利" in on_tty and "1200/1200" in on_tty and "条/s" in on_tty
    on_pipe = _cli(["ingest", "patents", str(src)], tmp_path / "home2", tty=False)
    assert "入库" not in on_pipe and "/s" not in on_pipe and on_pipe.strip() == ""


def test_ingest_progress_hook_adds_up(settings: Any, tmp_path: Path) -> None:
    """The intake hook: every row found and every row validated reported, in increments."""
    from indexing.intake.ingest import ingest_files
    from indexing.store.record_store import open_store

    calls: list[tuple[int, int]] = []
    files = [_patents_csv(tmp_path / "a.csv", 1234), _patents_csv(tmp_path / "b.csv", 7)]
    with open_store(settings) as store:
        ingest_files("patents", files, store, rejects_dir=None,
                     progress=lambda found, done: calls.append((found, done)))
    assert sum(f for f, _ in calls) == 1241 == sum(d for _, d in calls)
    assert calls[0] == (1234, 0) and len(calls) > 3  # found first, then steps of 500


def _nightly(settings: Any, stderr: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from indexing.build.nightly import run_nightly
    from tests.indexing._bundle_fakes import FakeEncoder, FakeLabeler, FakeTokenizer
    from tests.indexing.test_nightly import write_patents_csv

    write_patents_csv(settings.inbox_dir / "patents" / "batch.csv", 30)
    monkeypatch.setattr(sys, "stderr", stderr)
    # what the CLI passes: it asks whether stderr is a terminal; each bar asks again
    return run_nightly(settings, tokenizer=FakeTokenizer(), encoder=FakeEncoder(),
                       labeler=FakeLabeler(), show_progress=True)


def test_nightly_bars_on_a_terminal(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = FakeTTY()
    st = _nightly(settings, stream, monkeypatch)
    assert st.exit_code == 0, st.error
    out = stream.getvalue()
    assert "入库 收件箱" in out and "30/30" in out and "条/s" in out
    assert "重新标引 专利" in out and "<" in out


def test_nightly_quiet_on_a_pipe(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as stream:
        st = _nightly(settings, stream, monkeypatch)
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    assert st.exit_code == 0, st.error
    with os.fdopen(read_fd, "rb") as r:
        assert r.read() == b""  # no ingest, relabel or build bar


def test_label_bar_on_a_terminal(tmp_path: Path) -> None:
    src = _patents_csv(tmp_path / "p.csv", 300)
    out = _cli(["label", str(src), "--out", str(tmp_path / "l.jsonl"), "--kind", "patents"],
               tmp_path / "home", tty=True)
    assert "标引" in out and "300/300" in out and "条/s" in out
