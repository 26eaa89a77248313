"""Atomic writes: a reader sees the old file or the new one, never half of either.

Every file the project writes goes through here: a temp file in the target's directory,
written, flushed and fsync'ed, then ``os.replace`` over the target, then an fsync of the
directory so the rename itself survives a crash. A failed write removes its temp file
and leaves the target untouched.

Modes: ``mode=None`` gives an ordinary file (0666 minus the umask, like ``open``);
files holding records pass ``mode=PRIVATE`` (0600).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from patmatch.errors import InputError

PRIVATE = 0o600


def _ordinary_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, mode: int | None = None) -> Iterator[Path]:
    """A temp path to write the new file at; on a clean exit it replaces ``path``.

    For writers that want a path (polars, joblib, xlsxwriter): ``with atomic_path(p) as
    tmp: df.write_parquet(tmp)``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, _ordinary_mode() if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


@contextmanager
def atomic_open(path: str | Path, open_mode: str = "w", *, mode: int | None = None,
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """A file object writing the new content of ``path`` (``"w"`` text or ``"wb"``)."""
    if open_mode not in ("w", "wb"):
        raise InputError(f"atomic_open writes ('w' or 'wb'), got {open_mode!r}")
    with atomic_path(path, mode=mode) as tmp:
        if open_mode == "wb":
            with open(tmp, "wb") as fh:
                yield fh
        else:
            with open(tmp, "w", encoding=encoding, newline=newline) as fh:
                yield fh


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    with atomic_open(path, "wb", mode=mode) as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str, *, mode: int | None = None,
                      encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", mode=mode, encoding=encoding) as fh:
        fh.write(text)


def atomic_write_json(path: str | Path, obj: Any, *, mode: int | None = None,
                      indent: int | None = 2, default: Callable[[Any], Any] | None = None
                      ) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent,
                                       default=default), mode=mode)


def atomic_rename(src: str | Path, dst: str | Path) -> None:
    """``os.replace`` of a finished file or directory, durable in both directories."""
    src, dst = Path(src), Path(dst)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)
