"""On-disk embedding cache: each exact text is encoded once per encoder.

Vectors are keyed by (encoder fingerprint, sha256 of the exact text). Layout::

    <cache_dir>/<fingerprint>[-queries]/shard-<time>-<uuid>.npz   # keys (n, 32) uint8, vectors (n, d) float32

Every ``encode`` call that meets new texts appends ONE new shard, written to a temp file
and renamed into place, so a crash never leaves a half-written shard, readers never see
one, and concurrent writers cannot clobber each other (unique names). Many small shards
are merged by ``compact()`` (called automatically past ``max_shards``).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from patmatch.atomic_io import PRIVATE, atomic_open
from patmatch.errors import InputError

from indexing.encoders.encoder import TextEncoder

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CacheStats:
    texts: int
    unique: int
    hits: int
    encoded: int


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, cache_dir: str | Path, *, max_shards: int = 64, flush_every: int = 512) -> None:
        self.cache_dir = Path(cache_dir)
        self.flush_every = max(1, flush_every)
        self.max_shards = max_shards
        self.last_stats = CacheStats(0, 0, 0, 0)
        # in-memory index per namespace: key -> vector row, loaded on first use
        self._mem: dict[str, dict[bytes, np.ndarray]] = {}
        self._seen_shards: dict[str, set[str]] = {}

    def _namespace(self, encoder: TextEncoder, kind: str) -> str:
        ns = _SAFE.sub("_", str(encoder.fingerprint))
        return ns if kind == "documents" else f"{ns}-{kind}"

    def _dir(self, ns: str) -> Path:
        return self.cache_dir / ns

    def _load(self, ns: str) -> dict[bytes, np.ndarray]:
        """Read shards not seen yet (other processes may have appended since)."""
        mem = self._mem.setdefault(ns, {})
        seen = self._seen_shards.setdefault(ns, set())
        d = self._dir(ns)
        if not d.exists():
            return mem
        for shard in sorted(d.glob("shard-*.npz")):
            if shard.name in seen:
                continue
            try:
                with np.load(shard) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except FileNotFoundError:  # compacted away by another process meanwhile
                continue
            for k, v in zip(keys, vecs, strict=True):
                mem[k.tobytes()] = v
            seen.add(shard.name)
        return mem

    def _write_shard(self, ns: str, keys: list[bytes], vecs: np.ndarray) -> Path:
        d = self._dir(ns)
        d.mkdir(parents=True, exist_ok=True)
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"
        key_arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)
        with atomic_open(d / name, "wb", mode=PRIVATE) as fh:
            np.savez(fh, keys=key_arr, vectors=np.ascontiguousarray(vecs, dtype=np.float32))
        self._seen_shards.setdefault(ns, set()).add(name)
        return d / name

    def encode(
        self,
        encoder: TextEncoder,
        texts: Sequence[str],
        *,
        kind: Literal["documents", "queries"] = "documents",
        batch_size: int = 256,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Vectors for ``texts`` (row-aligned), encoding only texts not cached yet."""
        if isinstance(texts, str):
            raise InputError("expected a sequence of texts, got a single str (wrap it in a list)")
        if kind not in ("documents", "queries"):
            raise InputError(f"kind must be 'documents' or 'queries', got {kind!r}")
        texts = list(texts)
        ns = self._namespace(encoder, kind)
        mem = self._load(ns)
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in mem and k not in missing:
                missing[k] = t
        if missing:
            from tqdm.auto import tqdm

            miss_keys, miss_texts = list(missing), list(missing.values())
            # Write a shard every `flush_every` texts: an interrupted slow run (the teacher
            # does ~5 paragraphs/s) keeps everything encoded so far.
            bar = tqdm(total=len(miss_texts), desc="encoding", unit="text", disable=not show_progress)
            for s in range(0, len(miss_texts), self.flush_every):
                chunk = miss_texts[s : s + self.flush_every]
                if kind == "documents":
                    vecs = encoder.encode_documents(chunk, batch_size=batch_size)
                else:
                    vecs = encoder.encode_queries(chunk)
                vecs = np.asarray(vecs, dtype=np.float32)
                ks = miss_keys[s : s + self.flush_every]
                self._write_shard(ns, ks, vecs)
                for k, v in zip(ks, vecs, strict=True):
                    mem[k] = v
                bar.update(len(chunk))
            bar.close()
            if len(self._seen_shards.get(ns, ())) > self.max_shards:
                self.compact(encoder, kind=kind)
        self.last_stats = CacheStats(
            texts=len(texts), unique=len(set(keys)), hits=len(set(keys)) - len(missing), encoded=len(missing)
        )
        if not texts:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return np.stack([mem[k] for k in keys]).astype(np.float32, copy=False)

    def compact(self, encoder: TextEncoder, *, kind: str = "documents") -> int:
        """Merge all shards of one encoder into one; returns the number of vectors kept."""
        ns = self._namespace(encoder, kind)
        mem = self._load(ns)
        d = self._dir(ns)
        old = sorted(d.glob("shard-*.npz"))
        if len(old) <= 1:
            return len(mem)
        keys = list(mem)
        self._write_shard(ns, keys, np.stack([mem[k] for k in keys]) if keys else np.zeros((0, encoder.dimension)))
        for shard in old:
            shard.unlink(missing_ok=True)
            self._seen_shards[ns].discard(shard.name)
        return len(keys)

    def size(self, encoder: TextEncoder, *, kind: str = "documents") -> int:
        return len(self._load(self._namespace(encoder, kind)))
