"""The API's old second file, ``<home>/api.sqlite3`` (keys, audit log, jobs), moved into
the one database once.

Two ways in, one code path: migration 0003_api moves the rows when it creates the tables
(with its own frozen table definitions), and :func:`adopt` moves them into a database that
is already at the newest revision but whose API tables are still empty (a process that
upgraded without knowing the data home, e.g. a nightly run, got there first). Tables that
already hold rows are never merged into: the file is then left where it is, and a warning
says so. After the commit the file is renamed ``api.sqlite3.moved`` (with its WAL), kept
as a backup, never read again.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from patmatch.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("patmatch.store.legacy_api")

FILE_NAME = "api.sqlite3"
BATCH = 5000


def read_rows(path: Path, tables: dict[str, Table]) -> dict[str, list[dict]]:
    """Every row of the old file's tables, read-only (rows still only in its WAL too);
    columns the old file lacks are NULL. A file that cannot be read raises ConfigError."""
    out: dict[str, list[dict]] = {}
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
        src.row_factory = sqlite3.Row
    except sqlite3.Error as exc:
        raise ConfigError(f"旧 API 数据文件 {path} 无法打开（{exc}）：请修复或移走后再升级",
                          details={"path": str(path)}) from None
    try:
        present = {r[0] for r in src.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        for name, table in tables.items():
            if name not in present:
                continue
            have = {r[1] for r in src.execute(f"PRAGMA table_info({name})")}
            sel = ", ".join(c.name if c.name in have else f"NULL AS {c.name}"
                            for c in table.columns)
            order = " ORDER BY seq" if name == "audit_log" else ""
            out[name] = [dict(r) for r in src.execute(f"SELECT {sel} FROM {name}{order}")]
    except sqlite3.Error as exc:
        raise ConfigError(f"旧 API 数据文件 {path} 无法读取（{exc}）：请修复或移走后再升级",
                          details={"path": str(path)}) from None
    finally:
        src.close()
    return out


def move_rows(conn: Connection, path: Path, tables: dict[str, Table]) -> dict[str, int]:
    """Insert the old file's rows on ``conn`` (inside the caller's transaction)."""
    from sqlalchemy import text

    rows = read_rows(path, tables)
    for name, batch in rows.items():
        for i in range(0, len(batch), BATCH):
            conn.execute(tables[name].insert(), batch[i:i + BATCH])
    if conn.dialect.name == "postgresql" and rows.get("audit_log"):
        # explicit seq values do not advance the sequence: the next entry follows them
        conn.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), "
                          "(SELECT MAX(seq) FROM audit_log))"))
    return {name: len(batch) for name, batch in rows.items()}


def retire(path: Path) -> None:
    """Rename the old file (and its WAL, which SQLite finds by the new name + ``-wal``), so
    it is kept as a backup but never read again; ``-shm`` is only an index, rebuilt."""
    moved = path.with_name(path.name + ".moved")
    path.rename(moved)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        wal.rename(moved.with_name(moved.name + "-wal"))
    path.with_name(path.name + "-shm").unlink(missing_ok=True)


def adopt(engine: Engine, path: Path) -> dict[str, int]:
    """Move the old file into a database already at the newest revision, when its API
    tables are still empty; {} (and the file left in place, with a warning) otherwise."""
    from sqlalchemy import func, select

    from indexing.store.database import lock_schema, write_transaction
    from indexing.store.tables_api import api_keys, audit_log, jobs

    tables = {"api_keys": api_keys, "audit_log": audit_log, "jobs": jobs}
    with write_transaction(engine) as conn:
        lock_schema(conn)  # the lock the migrations take: one mover
        if not path.is_file():
            return {}  # another process moved it while we waited
        if any(conn.execute(select(func.count()).select_from(t)).scalar() for t in tables.values()):
            log.warning("旧 API 数据文件 %s 未迁入：数据库中的密钥/审计/任务表已有数据；"
                        "请核对后移走该文件", path)
            return {}
        moved = move_rows(conn, path, tables)
    retire(path)
    log.info("旧 API 数据文件 %s 已迁入数据库：%s", path, moved)
    return moved


__all__ = ["FILE_NAME", "adopt", "move_rows", "read_rows", "retire"]
