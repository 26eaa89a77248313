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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
            batch: int = 2000) -> dict[str, int]:
    """Label new, changed and stale records and keep the labels in the store; returns how
    many records of each side were (re)labelled. Labels of vanished records are dropped.

    Streamed: the store's records (or the given ones) and its labels are read side by
    side in id order, and new labels are written ``batch`` records at a time, so neither
    the records nor the label set is ever held whole. A labeler of another version
    relabels the whole side (the set is emptied at the first write: an interrupted run
    leaves records unlabelled, never labelled by the old labeler).

    ``progress(side, total)`` returns a callable ``update(n)`` (a progress bar); asking
    for one costs a counting pass."""
    from indexing.build.record_stream import in_id_order

    done: dict[str, int] = {}
    version = getattr(labeler, "version", None)
    for side, given in (("patents", patents), ("demands", demands)):
        def records(side: str = side, given: Any = given) -> Any:
            if given is not None:
                return in_id_order(given)
            return store.iter_patents() if side == "patents" else store.iter_demands()

        reset = store.labels_version(side) != version  # the set was made by another labeler
        update = None
        if progress is not None:
            total = sum(len(b) for b, _ in _stale_batches(store, side, records(), version,
                                                          reset, batch))
            update = progress(side, total) if total else None
        done[side], drop = 0, []
        for todo, vanished in _stale_batches(store, side, records(), version, reset, batch):
            drop += vanished  # dropped with the first write, as the whole-set save did
            if todo or (drop and done[side]):
                store.update_labels(side, label_records(side, todo, labeler) if todo else {},
                                    version or "",
                                    drop=drop, reset=reset and not done[side])
                drop = []
            done[side] += len(todo)
            if update is not None and todo:
                update(len(todo))
    return done


def _stale_batches(store: Any, side: str, records: Iterable[Any], version: str | None,
                   reset: bool, batch: int) -> Iterator[tuple[list[Any], list[str]]]:
    """(stale records, ids of vanished records' labels) a batch at a time, the last
    batch carrying the labels left after the last record."""
    from itertools import islice

    from indexing.build.record_stream import LabelJoin

    it = iter(records)
    join = LabelJoin(None if reset else store.iter_labels(side), keep_skipped=True)
    try:
        while chunk := for_labelling(side, islice(it, batch)):
            have = join.take([r.id for r in chunk])
            todo = [r for r in chunk if is_stale(have.get(r.id), r, version)
                    or "record_digest" not in have.get(r.id, {})]
            yield todo, join.pop_skipped()
        join.drain()
        yield [], join.pop_skipped()
    finally:
        join.close()
        getattr(it, "close", lambda: None)()


def fresh_labels(side: str, records: Sequence[Any], given: Mapping[str, Mapping[str, Any]],
                 labeler: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The build's labels for ``records``: ``given`` where it is current, the labeler's
    otherwise. Returns (labels, the ones labelled now). Without a labeler a stale label
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
    new = label_records(side, missing, labeler) if missing and labeler is not None else {}
    out.update(new)  # build records are masked already
    return out, new


__all__ = ["fresh_labels", "is_stale", "label_digest", "label_records", "relabel"]
