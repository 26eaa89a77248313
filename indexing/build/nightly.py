"""The nightly rebuild: inbox -> store -> relabel -> build -> quality gate -> publish.

One run holds ``<home>/nightly.lock`` (an ``flock``: released by the kernel when the
owner dies, so a killed run never blocks the next one). It never raises: every outcome
becomes a ``NightlyStatus`` written to ``<logs>/nightly-status.json`` (atomically) plus
one greppable line appended to ``<logs>/nightly.log``::

    2026-11-24T02:00:41Z patmatch-nightly status=ok exit=0 build=20261124T020003Z ...

Exit codes (``patmatch nightly`` exits with them; docs/operations.md lists them):
0 ok / unchanged, 6 the quality gate refused the new bundle (current one still served),
4 another run holds the lock, 1 anything else failed (current bundle untouched).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.build.build_config import BuildConfig
from indexing.build.pipeline import build
from indexing.build.relabel import relabel
from indexing.build.stage_timer import peak_rss_mb
from indexing.build.relabel import tty_progress
from indexing.build.publish import file_lock, publish
from indexing.index.bundle import MANIFEST, Manifest, read_pointer
from patmatch.atomic_io import atomic_write_text
from patmatch.errors import LockHeldError, PatmatchError, QualityGateError

if TYPE_CHECKING:
    from patmatch.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_LOCKED, EXIT_GATE = 0, 1, LockHeldError.exit_code, QualityGateError.exit_code
INBOX_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls", ".jsonl", ".json", ".parquet")
_KIND_HINTS = {"patents": ("patent", "专利"), "demands": ("demand", "需求")}


@dataclass
class NightlyStatus:
    status: str = "running"  # ok | unchanged | gate_refused | locked | failed
    exit_code: int = EXIT_OK
    started: str = ""
    finished: str = ""
    duration_s: float = 0.0
    pid: int = field(default_factory=os.getpid)
    build_id: str | None = None
    published: str | None = None
    previous: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    relabelled: dict[str, int] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    error: str | None = None
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        q = self.quality.get("ndcg@10")
        parts = [self.finished or _now(), "patmatch-nightly", f"status={self.status}",
                 f"exit={self.exit_code}", f"build={self.build_id or '-'}",
                 f"current={self.published or self.previous or '-'}",
                 f"patents={self.counts.get('patents', '-')}",
                 f"demands={self.counts.get('demands', '-')}",
                 f"files={len(self.files)}",
                 f"rejected_files={sum(1 for f in self.files if f.get('outcome') == 'rejected')}",
                 f"ndcg@10={q:.4f}" if isinstance(q, float) else "ndcg@10=-",
                 f"duration={self.duration_s:.1f}s"]
        if self.error:
            parts.append("error=" + json.dumps(self.error[:300], ensure_ascii=False))
        return " ".join(parts)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def inbox_kind(path: Path, inbox: Path) -> str | None:
    """patents/demands from the subfolder (inbox/patents/...) or a hint in the name."""
    rel = path.relative_to(inbox).parts
    if len(rel) > 1 and rel[0] in _KIND_HINTS:
        return rel[0]
    name = path.name.lower()
    hits = [k for k, hints in _KIND_HINTS.items() if any(h in name for h in hints)]
    return hits[0] if len(hits) == 1 else None


def inbox_files(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        return []
    out = []
    for p in [*inbox.glob("*"), *inbox.glob("patents/*"), *inbox.glob("demands/*")]:
        if (p.is_file() and not p.name.startswith((".", "~$"))
                and p.suffix.lower() in INBOX_SUFFIXES):
            out.append(p)
    return sorted(out)


def _move(path: Path, dest_dir: Path, stamp: str) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{stamp}-{path.name}"
    shutil.move(str(path), dest)
    return dest


def ingest_inbox(settings: Settings, store: Any, *, stamp: str,
                 show_progress: bool = False) -> list[dict[str, Any]]:
    """Ingest each inbox file on its own; move it to processed/ or rejected/. With
    ``show_progress`` one bar counts the records of all files (on a terminal only)."""
    from patmatch.progress import ProgressBar

    inbox = settings.inbox_dir
    out = []
    bar = ProgressBar(0, "入库 收件箱", force=None if show_progress else False)
    with bar:
        for path in inbox_files(inbox):
            out.append(_ingest_one(settings, store, inbox, path, stamp, bar))
    return out


def _ingest_one(settings: Settings, store: Any, inbox: Path, path: Path, stamp: str,
                bar: Any) -> dict[str, Any]:
    from indexing.intake.ingest import ingest_files

    kind = inbox_kind(path, inbox)
    entry: dict[str, Any] = {"file": path.name, "kind": kind}
    try:
        if kind is None:
            raise PatmatchError(
                f"cannot tell whether {path.name} holds patents or demands: put it in "
                "inbox/patents/ or inbox/demands/, or name it *patent*/*demand*")
        report = ingest_files(kind, [path], store, rejects_dir=settings.logs_dir / "rejects",
                              progress=lambda found, done: (bar.grow(found), bar(done)))
        entry.update(outcome="processed", **{k: getattr(report, k) for k in (
            "read", "accepted", "updated", "rejected", "duplicates", "unchanged")})
        entry["moved_to"] = str(_move(path, inbox / "processed", stamp))
    # a bad file must not block the others; store/disk failures (sqlite3.Error,
    # OSError) are not the file's fault: they fail the run and the file stays put
    except (PatmatchError, ValueError, KeyError, TypeError, UnicodeError) as exc:
        msg = exc.message if isinstance(exc, PatmatchError) else f"{type(exc).__name__}: {exc}"
        dest = _move(path, inbox / "rejected", stamp)
        Path(f"{dest}.error.txt").write_text(msg + "\n", encoding="utf-8")
        entry.update(outcome="rejected", error=msg, moved_to=str(dest))
    return entry


def _unchanged(settings: Settings, store: Any, config: BuildConfig, tokenizer: Any,
               encoder: Any, labeler: Any) -> bool:
    """True when the current bundle was built from exactly these records and settings."""
    from indexing.build.stages import prepared_hash

    cur = read_pointer(settings)["current"]
    if not cur or not (settings.bundles_dir / cur / MANIFEST).is_file():
        return False
    m = Manifest.read(settings.bundles_dir / cur)
    # the records streamed chunk by chunk, as the build reads them: never all in memory
    return (m.record_set_hash == prepared_hash(store.iter_patents(), store.iter_demands(), config)
            and m.config == json.loads(json.dumps(config.to_dict()))
            and m.tokenizer.fingerprint == getattr(tokenizer, "fingerprint", None)
            and m.encoder.fingerprint == getattr(encoder, "fingerprint", None)
            and (m.labeler or {}).get("version") == getattr(labeler, "version", None))


def write_status(settings: Settings, status: NightlyStatus, *, status_file: bool = True) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    if status_file:
        atomic_write_text(settings.logs_dir / "nightly-status.json",
                          json.dumps(status.to_dict(), ensure_ascii=False, indent=2))
    with open(settings.logs_dir / "nightly.log", "a", encoding="utf-8") as f:
        f.write(status.log_line() + "\n")


def run_nightly(settings: Settings, *, evaluator: Callable[[Path], dict[str, float]] | None = None,
                config: BuildConfig = BuildConfig(), store: Any = None, tokenizer: Any = None,
                encoder: Any = None, labeler: Any = None, wait: bool = False,
                force_build: bool = False, show_progress: bool = False) -> NightlyStatus:
    t0 = time.monotonic()
    st = NightlyStatus(started=_now())
    lock_path = settings.home / "nightly.lock"
    try:
        with file_lock(lock_path, wait=wait, what="the nightly rebuild lock"):
            st.previous = read_pointer(settings)["current"]
            atomic_write_text(settings.logs_dir / "nightly-status.json",  # "running", pid
                              json.dumps(st.to_dict(), ensure_ascii=False, indent=2))
            _run_locked(settings, st, evaluator=evaluator, config=config, store=store,
                        tokenizer=tokenizer, encoder=encoder, labeler=labeler,
                        force_build=force_build, show_progress=show_progress)
            _finish(settings, st, t0)
    except LockHeldError as exc:
        st.status, st.exit_code, st.error = "locked", EXIT_LOCKED, exc.message
        _finish(settings, st, t0, status_file=False)  # the running one owns the status
    return st


def _finish(settings: Settings, st: NightlyStatus, t0: float, *, status_file: bool = True) -> None:
    st.finished = _now()
    st.duration_s = round(time.monotonic() - t0, 3)
    st.peak_rss_mb = peak_rss_mb()
    write_status(settings, st, status_file=status_file)


def _run_locked(settings: Settings, st: NightlyStatus, *, evaluator: Any, config: BuildConfig,
                store: Any, tokenizer: Any, encoder: Any, labeler: Any, force_build: bool,
                show_progress: bool) -> None:
    own_store = store is None
    try:
        if own_store:
            from indexing.store.record_store import open_store

            store = open_store(settings)
        st.files = ingest_inbox(settings, store, stamp=st.started.replace(":", ""),
                                show_progress=show_progress)
        if tokenizer is None:
            from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

            tokenizer = ChineseTokenizer(TokenizerConfig.from_dict(dict(config.tokenizer)))
        encoder_config = None
        if encoder is None:
            from indexing.encoders.encoder import EncoderConfig, load_encoder

            ec = EncoderConfig(name=config.encoder or settings.encoder)
            encoder, encoder_config = load_encoder(ec, settings), ec.to_dict()
        if labeler is None:
            from labeling_spec import Labeler

            labeler = Labeler.load(tokenize=tokenizer.tokenize)
        st.relabelled = relabel(store, labeler,
                                progress=tty_progress if show_progress else None)
        if not force_build and _unchanged(settings, store, config, tokenizer, encoder, labeler):
            st.status, st.exit_code, st.published = "unchanged", EXIT_OK, st.previous
            return
        st.build_id = build(store, settings, config, tokenizer=tokenizer, encoder=encoder,
                            labeler=labeler, show_progress=show_progress,
                            encoder_config=encoder_config)
        m = Manifest.read(settings.staging_dir / st.build_id)
        st.counts = dict(m.counts)
        st.published = publish(settings, st.build_id, evaluator=evaluator)
        st.quality = dict(Manifest.read(settings.bundles_dir / st.published).quality)
        st.status, st.exit_code = "ok", EXIT_OK
    except QualityGateError as exc:
        st.status, st.exit_code, st.error = "gate_refused", EXIT_GATE, exc.message
        st.quality = dict(exc.details)
    except Exception as exc:  # noqa: BLE001 - every failure must become a status
        msg = exc.message if isinstance(exc, PatmatchError) else f"{type(exc).__name__}: {exc}"
        st.status, st.exit_code, st.error = "failed", EXIT_FAILED, msg
        if not isinstance(exc, PatmatchError):
            st.traceback = traceback.format_exc(limit=8)
    finally:
        if own_store and store is not None:
            store.close()


__all__ = ["EXIT_FAILED", "EXIT_GATE", "EXIT_LOCKED", "EXIT_OK", "NightlyStatus",
           "inbox_files", "inbox_kind", "ingest_inbox", "relabel", "run_nightly", "write_status"]
