"""Incremental labelling: a record is (re)labelled when it is new, when its content changed
since it was labelled, or when the labeler changed.

Each stored label carries ``record_digest`` (a digest of what the labeler reads, see
``label_digest``) next to ``labeler_version``; a label whose digest or version differs
from the record's current one is stale. ``relabel`` (nightly, build) replaces stale labels
in the store; the build stage refuses to use a stale label (it labels the record afresh,
or fails when it has no labeler), so a bundle never carries labels older than its record.

Demands are labelled masked (the build indexes masked demands, and a label span must not
carry a phone number the record's own text had).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from patmatch.errors import ConfigError

SIDES = ("patents", "demands")
# fields the labeler never reads: provenance and the demand's owner/status/contacts
_NOT_LABELLED = frozenset({"source", "owner", "status", "contact_name", "contact_phone",
                           "contact_email"})


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def label_digest(record: Any) -> str:
    """A digest of the record content the labeler reads (stable across processes)."""
    names = getattr(record, "__dataclass_fields__", None) or vars(record)
    d = {k: _plain(getattr(record, k, None)) for k in names if k not in _NOT_LABELLED}
    raw = json.dumps(d, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def for_labelling(side: str, records: Iterable[Any]) -> list[Any]:
    """What the labeler sees: patents as stored, demands masked."""
    if side == "patents":
        return list(records)
    from indexing.privacy import mask_demand

    return [mask_demand(r) if hasattr(r, "contact_phone") else r for r in records]


def is_stale(label: Mapping[str, Any] | None, record: Any, version: str | None) -> bool:
    """True when ``label`` was not made from this record content by this labeler.

    A label without ``record_digest`` (written before digests existed, or handed in by a
    caller that built it itself) is stale only when a labeler version is given and the
    label names another one."""
    if label is None:
        return True
    if version is not None and label.get("labeler_version") not in (None, version):
        return True
    digest = label.get("record_digest")
    return digest is not None and digest != label_digest(record)  # garbage digest: stale


def label_records(side: str, records: Sequence[Any], labeler: Any) -> dict[str, dict[str, Any]]:
    """Label ``records`` (already prepared with ``for_labelling``); id -> label dict."""
    fn = labeler.label_patents if side == "patents" else labeler.label_demands
    out: dict[str, dict[str, Any]] = {}
    for rec, lab in zip(records, fn(records), strict=True):
        d = lab.to_dict() if hasattr(lab, "to_dict") else dict(lab)
        d["record_digest"] = label_digest(rec)
        out[rec.id] = d
    return out


def tty_progress(side: str, total: int) -> Callable[[int], Any]:
    """A relabelling progress bar (rate, ETA) on stderr, only when stderr is a terminal."""
    from patmatch.progress import ProgressBar

    bar = ProgressBar(total, f"重新标引 {'专利' if side == 'patents' else '需求'}")

    def update(n: int) -> None:
        bar(n)
        if bar.n >= total:
            bar.close()

    return update


def relabel(store: Any, labeler: Any, *, patents: Sequence[Any] | None = None,
            demands: Sequence[Any] | None = None,
            progress: Callable[[str, int], Any] | None = None,
            loaded: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
    """Label new, changed and stale records and keep the labels in the store; returns how
    many records of each side were (re)labelled. Labels of vanished records are dropped.

    ``progress(side, total)`` returns a callable ``update(n)`` (a progress bar).
    ``loaded``: side -> the store's labels as the caller already read them (reading 50k
    labels costs ~1 s, the build needs them anyway); replaced with what was saved."""
    done: dict[str, int] = {}
    version = getattr(labeler, "version", None)
    for side, given in (("patents", patents), ("demands", demands)):
        if given is None:
            given = list(store.iter_patents() if side == "patents" else store.iter_demands())
        records = for_labelling(side, given)
        have = loaded[side] if loaded is not None and side in loaded else store.load_labels(side)
        if store.labels_version(side) != version:  # the set was made by another labeler
            have = {}
        todo = [r for r in records if is_stale(have.get(r.id), r, version)
                or "record_digest" not in have.get(r.id, {})]
        if todo:
            update = progress(side, len(todo)) if progress is not None else None
            new: dict[str, dict[str, Any]] = {}
            for lo in range(0, len(todo), 256):
                chunk = todo[lo:lo + 256]
                new.update(label_records(side, chunk, labeler))
                if update is not None:
                    update(len(chunk))
            ids = {r.id for r in records}
            keep = {k: v for k, v in have.items() if k in ids and k not in new}
            store.save_labels(side, {**keep, **new}, version or "")
            if loaded is not None:
                loaded[side] = {**keep, **new}
        elif loaded is not None:
            loaded[side] = have
        done[side] = len(todo)
    return done


def fresh_labels(side: str, records: Sequence[Any], given: Mapping[str, Mapping[str, Any]],
                 labeler: Any) -> tuple[dict[str, dict[str, Any]], int]:
    """The build's labels for ``records``: ``given`` where it is current, the labeler's
    otherwise. Returns (labels, how many were relabelled). Without a labeler a stale label
    is refused (``ConfigError``): a bundle must not describe a record by its old text."""
    version = getattr(labeler, "version", None) if labeler is not None else None
    out: dict[str, dict[str, Any]] = {}
    missing: list[Any] = []
    for r in records:
        lab = given.get(r.id)
        if lab is not None and not is_stale(lab, r, version):
            out[r.id] = dict(lab)
        elif lab is not None and labeler is None:
            raise ConfigError(
                f"{side} label of {r.id!r} is older than the record (its content changed after "
                "it was labelled); relabel first (`patmatch nightly` or `patmatch build` with "
                "the labeler)", details={"side": side, "id": r.id})
        else:
            missing.append(r)
    if missing and labeler is not None:
        out.update(label_records(side, missing, labeler))  # build records are masked already
    return out, len(missing) if labeler is not None else 0


__all__ = ["fresh_labels", "is_stale", "label_digest", "label_records", "relabel"]
