"""Records <-> table rows of the record store (``tables_records``), the same on both backends.

A row holds the record as JSON text, a keyed digest of its content (what decides
"changed" on re-ingest) and a digest of its matchable text (exact duplicates across ids).
Demand contact fields never enter the JSON: they are one Fernet token in ``contact_enc``.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import orjson

from indexing.records import DEMAND_COLUMNS, PATENT_COLUMNS, PERSONAL_FIELDS, DemandRecord, PatentRecord

if TYPE_CHECKING:
    from indexing.privacy import PiiCipher


def loads(data: str) -> Any:
    """orjson where it can (3-4x faster over a 20k-record store), json for what orjson
    refuses (NaN/Infinity written by an older json.dumps, ints beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_digest(text: str) -> str:
    """Digest of the matchable text, whitespace-insensitive (exact-duplicate detection)."""
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()


def content_text(d: dict[str, Any]) -> str:
    """What decides "changed": everything but provenance (the same row arriving in a
    file with another name is unchanged, not an update)."""
    return dumps({k: v for k, v in d.items() if k != "source"})


def patent_to_dict(rec: PatentRecord) -> dict[str, Any]:
    d = {f: getattr(rec, f) for f in PATENT_COLUMNS}  # shallow: asdict deep-copies (slow)
    d["ipc"], d["inventors"] = list(rec.ipc), list(rec.inventors)
    return d


def patent_from_dict(d: dict[str, Any]) -> PatentRecord:
    d = dict(d)
    d["ipc"], d["inventors"] = tuple(d.get("ipc") or ()), tuple(d.get("inventors") or ())
    return PatentRecord(**d)


class RecordCodec:
    """Turns records into rows (digests keyed by the PII key, contacts encrypted) and back."""

    def __init__(self, cipher: PiiCipher) -> None:
        self.cipher = cipher

    def patent_row(self, rec: PatentRecord) -> dict[str, Any]:
        d = patent_to_dict(rec)
        return {"id": rec.id, "content_sha": self.cipher.digest(content_text(d)),
                "text_sha": text_digest(rec.text), "data": dumps(d)}

    def demand_row(self, rec: DemandRecord) -> dict[str, Any]:
        d = {f: getattr(rec, f) for f in DEMAND_COLUMNS}
        personal = {k: d.pop(k) for k in PERSONAL_FIELDS}
        d.pop("owner"), d.pop("status")
        pjson = dumps(personal)
        # status is not content: re-ingesting a file must not resurrect a deleted demand
        sha = self.cipher.digest(content_text(d) + pjson + str(rec.owner))
        enc = self.cipher.encrypt(pjson) if any(personal.values()) else None
        return {"id": rec.id, "content_sha": sha, "text_sha": text_digest(rec.query_text),
                "data": dumps(d), "contact_enc": enc, "owner": rec.owner}

    @staticmethod
    def patent(data: str) -> PatentRecord:
        return patent_from_dict(loads(data))

    def demand(self, data: str, enc: str | None, owner: str | None, status: str) -> DemandRecord:
        d = loads(data)
        d.update(loads(self.cipher.decrypt(enc)) if enc else {})
        return DemandRecord(**d, owner=owner, status=status)


__all__ = ["RecordCodec", "content_text", "dumps", "loads", "patent_from_dict",
           "patent_to_dict", "text_digest"]
