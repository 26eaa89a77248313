"""Publish, roll back, list and verify bundles; the pointer swap is the only commit.

State lives in ``<bundles_dir>/CURRENT.json``: ``{"current": id, "history": [...]}``
where ``history`` is the stack of previously current ids (its last entry is the
"previous" bundle that ``rollback`` returns to). The file is replaced atomically (temp
file + fsync + ``os.replace``), so a reader sees either the old or the new pointer, and a
crash anywhere before the replace leaves the current bundle untouched.

Publish: staging/<id> -> verified (checksums) -> quality gate -> quality written into its
manifest -> renamed into bundles/<id> and made read-only -> pointer swap -> prune (keep
``settings.keep_bundles``, never the current or the previous one).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.index.bundle import MANIFEST, POINTER, Manifest, read_pointer
from patmatch.atomic_io import atomic_rename, atomic_write_text
from patmatch.errors import (
    BundleError, BundleIntegrityError, PatmatchError, LockHeldError, NoBundleError, NotFoundError, QualityGateError,
)

if TYPE_CHECKING:
    from patmatch.settings import Settings

Evaluator = Callable[[Path], dict[str, float]]
_POINTER_LOCK = ".pointer.lock"


@contextmanager
def file_lock(path: Path, *, wait: bool = True, what: str = "lock") -> Iterator[int]:
    """An exclusive ``flock`` on ``path``: the kernel drops it when its owner dies, so a
    killed process never leaves a stale lock. The owner pid is written for operators."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeldError(
                f"{what} is held by another process (pid {owner}); try again later",
                details={"lock": str(path), "pid": owner}) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield fd
    finally:
        os.close(fd)  # closing releases the flock


def _write_pointer(settings: Settings, current: str, history: list[str]) -> None:
    body = {"current": current, "history": history,
            "updated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    atomic_write_text(settings.bundles_dir / POINTER, json.dumps(body, indent=2))


def _make_read_only(root: Path) -> None:
    # owner-only (0400): a bundle holds records (demand texts, facets), like the store
    for p in root.rglob("*"):
        if p.is_file():
            p.chmod(stat.S_IRUSR)


def _rmtree(root: Path) -> None:
    # read-only files in writable directories unlink fine on POSIX
    shutil.rmtree(root, ignore_errors=True)


def _created(path: Path) -> str:
    try:
        return str(Manifest.read(path).created_at or "")
    except BundleIntegrityError:
        return ""


def latest_staged(settings: Settings) -> str:
    staged = [p for p in settings.staging_dir.glob("*")
              if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()]
    if not staged:
        raise NotFoundError(f"no finished build in {settings.staging_dir}; run `patmatch build`",
                            details={"staging_dir": str(settings.staging_dir)})
    return max(staged, key=lambda p: (_created(p), p.name)).name


def resolve(settings: Settings, build_id: str) -> Path:
    for base in (settings.bundles_dir, settings.staging_dir):
        p = base / build_id
        if (p / MANIFEST).is_file():
            return p
    raise NotFoundError(f"no bundle or staged build named {build_id!r} in "
                        f"{settings.bundles_dir} or {settings.staging_dir}",
                        details={"build_id": build_id})


def _metric(q: dict[str, Any], metric: str) -> float | None:
    v = q.get(metric)
    return float(v) if isinstance(v, int | float) else None


def _evaluate(evaluator: Evaluator, path: Path) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in evaluator(path).items()}
    except PatmatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the gate must fail closed, with a message
        raise BundleError(
            f"the quality gate could not evaluate {path.name}: {type(exc).__name__}: {exc}",
            details={"path": str(path)}) from exc


def gate(candidate: Path, current: Path | None, evaluator: Evaluator | None, *,
         metric: str, tolerance: float) -> dict[str, Any]:
    """Quality figures of the candidate, with ``gate`` = passed | refused | skipped:
    refused when ``metric`` drops more than ``tolerance`` (absolute) below the current
    bundle's (its recorded figure, or evaluated now when it has none)."""
    if evaluator is None:
        return {"gate": "skipped", "reason": "no evaluator (judged set or matcher missing)"}
    cand = _evaluate(evaluator, candidate)
    out: dict[str, Any] = {**cand, "gate": "passed", "metric": metric, "tolerance": tolerance}
    if _metric(cand, metric) is None:
        raise QualityGateError(f"evaluator returned no {metric!r}; got {sorted(cand)}")
    if current is None:
        return out
    base = _metric(Manifest.read(current).quality, metric)
    if base is None:
        base = _metric(_evaluate(evaluator, current), metric)
    out["baseline"] = base
    if base is not None and cand[metric] < base - tolerance:
        out["gate"] = "refused"
        out["reason"] = (f"{metric} {cand[metric]:.4f} is more than {tolerance} below the "
                         f"current bundle's {base:.4f}")
    return out


def publish(settings: Settings, build_id: str | None = None, *, force: bool = False,
            evaluator: Evaluator | None = None) -> str:
    """Make a staged (or earlier published) build current; returns its build id."""
    settings.bundles_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(settings.bundles_dir / _POINTER_LOCK, what="the bundle pointer"):
        build_id = build_id or latest_staged(settings)
        src = resolve(settings, build_id)
        problems = Manifest.problems(src)
        if problems:
            raise BundleIntegrityError(
                f"refusing to publish {build_id}: " + "; ".join(problems[:5]),
                details={"path": str(src)})
        pointer = read_pointer(settings)
        current = pointer["current"]
        if current == build_id:
            return build_id
        cur_path = settings.bundles_dir / current if current else None
        if cur_path is not None and not (cur_path / MANIFEST).is_file():
            cur_path = None
        manifest = Manifest.read(src)
        cfg = manifest.config
        metric = str(cfg.get("gate_metric", "ndcg@10"))
        tolerance = float(cfg.get("gate_tolerance", 0.01))
        quality = gate(src, cur_path, evaluator, metric=metric, tolerance=tolerance)
        if quality["gate"] == "refused":
            if not force:
                raise QualityGateError(
                    f"quality gate refused {build_id}: {quality['reason']} "
                    "(use --force to override)",
                    details={"candidate": quality[metric], "current": quality["baseline"],
                             "tolerance": tolerance, "metric": metric})
            quality["gate"] = "forced"
        dst = settings.bundles_dir / build_id
        if src != dst:  # still in staging: record quality, then move in (same filesystem)
            Manifest.write(src, manifest.model_copy(
                update={"quality": {**quality, "evaluated": _now()}}))
            atomic_rename(src, dst)
        _make_read_only(dst)
        history = [h for h in pointer["history"] if h != build_id]
        if current:
            history.append(current)
        _write_pointer(settings, build_id, history[-100:])
        prune(settings)
    return build_id


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def rollback(settings: Settings) -> str:
    """Make the previous bundle current again; returns its build id."""
    with file_lock(settings.bundles_dir / _POINTER_LOCK, what="the bundle pointer"):
        pointer = read_pointer(settings)
        history = [h for h in pointer["history"] if (settings.bundles_dir / h / MANIFEST).is_file()]
        if not pointer["current"]:
            raise NoBundleError("nothing to roll back: no bundle has been published")
        if not history:
            raise NotFoundError(
                f"nothing to roll back to: {pointer['current']} is the only published bundle")
        target = history.pop()
        problems = Manifest.problems(settings.bundles_dir / target)
        if problems:
            raise BundleIntegrityError(f"refusing to roll back to {target}: "
                                       + "; ".join(problems[:5]))
        _write_pointer(settings, target, history)
    return target


def prune(settings: Settings, keep: int | None = None) -> list[str]:
    """Delete the oldest published bundles beyond ``keep`` (default settings.keep_bundles)
    and stale staged builds; never the current or the previous bundle."""
    keep = max(int(settings.keep_bundles if keep is None else keep), 2)
    pointer = read_pointer(settings)
    protected = {pointer["current"], *(pointer["history"][-1:])}
    published = sorted((p for p in settings.bundles_dir.glob("*")
                        if p.is_dir() and (p / MANIFEST).is_file()),
                       key=lambda p: (_created(p), p.name), reverse=True)
    # the current and previous bundles count towards N; the newest others fill the rest
    others = [p for p in published if p.name not in protected]
    room = max(keep - sum(1 for p in published if p.name in protected), 0)
    removed = []
    for p in others[room:]:
        _rmtree(p)
        removed.append(p.name)
    staged = sorted((p for p in settings.staging_dir.glob("*")
                     if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: (_created(p), p.name), reverse=True)
    for p in staged[keep:]:
        _rmtree(p)
        removed.append(p.name)
    return removed


def list_bundles(settings: Settings) -> list[dict[str, Any]]:
    """Published and staged bundles, newest first, with their state and key figures."""
    pointer = read_pointer(settings)
    prev = pointer["history"][-1] if pointer["history"] else None
    rows = []
    for state, base in (("published", settings.bundles_dir), ("staged", settings.staging_dir)):
        for p in base.glob("*"):
            if not p.is_dir() or p.name.startswith("."):
                continue
            try:
                m = Manifest.read(p)
            except BundleIntegrityError as exc:
                rows.append({"build_id": p.name, "state": "broken", "error": exc.message,
                             "path": str(p)})
                continue
            st = state
            if p.name == pointer["current"] and state == "published":
                st = "current"
            elif p.name == prev and state == "published":
                st = "previous"
            q = m.quality
            rows.append({"build_id": p.name, "state": st, "created_at": m.created_at,
                         "patents": m.counts.get("patents"),
                         "demands": m.counts.get("demands"),
                         "ndcg@10": q.get("ndcg@10"), "gate": q.get("gate"),
                         "size_mb": round(sum(f.stat().st_size for f in p.rglob("*")
                                              if f.is_file()) / 2**20, 2),
                         "path": str(p)})
    return sorted(rows, key=lambda r: (r.get("created_at") or "", r["build_id"]), reverse=True)


def verify(settings: Settings, build_id: str | None = None) -> dict[str, Any]:
    """Checksums (and loadability) of one bundle, default the current one."""
    from indexing.index.bundle import IndexBundle, current_build_id

    build_id = build_id or current_build_id(settings)
    path = resolve(settings, build_id)
    problems = Manifest.problems(path)
    if not problems:
        try:
            IndexBundle.load(path, verify=False)
        except BundleIntegrityError as exc:
            problems.append(exc.message)
    return {"build_id": build_id, "path": str(path), "ok": not problems, "problems": problems}


__all__ = ["file_lock", "gate", "latest_staged", "list_bundles", "prune", "publish",
           "resolve", "rollback", "verify"]
