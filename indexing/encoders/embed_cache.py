"""On-disk embedding cache: each exact text is encoded once per encoder.

Vectors are keyed by (encoder fingerprint, sha256 of the exact text). Layout::

    <cache_dir>/<fingerprint>[-queries]/shard-<time>-<uuid>.npz   # keys (n, 32) uint8, vectors (n, d) float32

Every ``encode`` call that meets new texts appends ONE new shard, written to a temp file
and renamed into place, so a crash never leaves a half-written shard, readers never see
one, and concurrent writers cannot clobber each other (unique names). Many small shards
are merged by ``compact()`` (called automatically past ``max_shards``). Shards are read
with their keys in memory and their vectors memory-mapped (issue 19: the vectors of a
million-patent corpus are ~3 GB; the keys ~0.2 GB).
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


class _Shard:
    """One shard: its keys sorted in memory (32 bytes a text), its vectors memory-mapped
    from the ``.npz`` (``np.savez`` stores members uncompressed), so a cache of millions
    of texts costs its keys, not its vectors (~1 KB a text)."""

    def __init__(self, keys: np.ndarray, path: Path) -> None:
        k = np.ascontiguousarray(keys, dtype=np.uint8).reshape(-1, 32).view("S32").ravel()
        self.order = np.argsort(k, kind="stable")
        self.sorted = k[self.order]
        self.path = path

    @classmethod
    def read(cls, path: Path) -> _Shard:
        with np.load(path) as z:
            keys = z["keys"]
        return cls(keys, path)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The vectors at ``rows``; mapped for the call only, so the pages read do not
        stay in the process' resident set."""
        vectors = _member(self.path, "vectors")
        try:
            return np.asarray(vectors[rows], dtype=np.float32)
        finally:
            del vectors

    def find(self, q: np.ndarray) -> np.ndarray:
        """Row of each query key in this shard, -1 where absent."""
        if not self.sorted.size:
            return np.full(q.size, -1, dtype=np.int64)
        at = np.searchsorted(self.sorted, q).clip(max=self.sorted.size - 1)
        return np.where(self.sorted[at] == q, self.order[at], -1)


def _member(path: Path, name: str) -> np.ndarray:
    """An array of an ``.npz`` memory-mapped when it is stored uncompressed (else read)."""
    import struct
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError("compressed member")
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            head = fh.read(30)
            n_name, n_extra = struct.unpack("<HH", head[26:30])
            fh.seek(info.header_offset + 30 + n_name + n_extra)
            version = np.lib.format.read_magic(fh)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(fh)
            offset = fh.tell()
        if fortran or dtype.hasobject or not shape[0]:
            raise ValueError("not a plain C array")
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    except (ValueError, KeyError, OSError, struct.error):
        with np.load(path) as z:
            return z[name]


class EmbeddingCache:
    def __init__(self, cache_dir: str | Path, *, max_shards: int = 64, flush_every: int = 512) -> None:
        self.cache_dir = Path(cache_dir)
        self.flush_every = max(1, flush_every)
        self.max_shards = max_shards
        self.last_stats = CacheStats(0, 0, 0, 0)
        # per namespace: the shards read so far (keys in memory, vectors memory-mapped)
        self._shards: dict[str, dict[str, _Shard]] = {}

    def _namespace(self, encoder: TextEncoder, kind: str) -> str:
        ns = _SAFE.sub("_", str(encoder.fingerprint))
        return ns if kind == "documents" else f"{ns}-{kind}"

    def _dir(self, ns: str) -> Path:
        return self.cache_dir / ns

    def _load(self, ns: str) -> dict[str, _Shard]:
        """Open shards not seen yet (other processes may have appended since)."""
        have = self._shards.setdefault(ns, {})
        d = self._dir(ns)
        if not d.exists():
            return have
        for shard in sorted(d.glob("shard-*.npz")):
            if shard.name in have:
                continue
            try:
                have[shard.name] = _Shard.read(shard)
            except FileNotFoundError:  # compacted away by another process meanwhile
                continue
        return have

    def _write_shard(self, ns: str, keys: np.ndarray, vecs: np.ndarray) -> Path:
        d = self._dir(ns)
        d.mkdir(parents=True, exist_ok=True)
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"
        key_arr = np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), 32)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        with atomic_open(d / name, "wb", mode=PRIVATE) as fh:
            np.savez(fh, keys=key_arr, vectors=vecs)
        self._shards.setdefault(ns, {})[name] = _Shard(key_arr, d / name)  # vectors not held
        return d / name

    def _lookup(self, shards: dict[str, _Shard], q: np.ndarray
                ) -> tuple[list[_Shard], np.ndarray, np.ndarray]:
        found = np.full(q.size, -1, dtype=np.int64)
        rows = np.full(q.size, -1, dtype=np.int64)
        listed = list(shards.values())
        for i, sh in enumerate(listed):
            todo = np.flatnonzero(found < 0)
            if not todo.size:
                break
            r = sh.find(q[todo])
            hit = r >= 0
            found[todo[hit]], rows[todo[hit]] = i, r[hit]
        return listed, found, rows

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
        q = np.array([text_key(t) for t in texts], dtype="S32")
        listed, found, _ = self._lookup(self._load(ns), q)
        missing: dict[bytes, str] = {}
        for i in np.flatnonzero(found < 0).tolist():
            missing.setdefault(q[i].tobytes().ljust(32, b"\0"), texts[i])
        if missing:
            from tqdm.auto import tqdm

            miss_keys = np.array(list(missing), dtype="S32")
            miss_texts = list(missing.values())
            # Write a shard every `flush_every` texts: an interrupted slow run (the teacher
            # does ~5 paragraphs/s) keeps everything encoded so far.
            bar = tqdm(total=len(miss_texts), desc="encoding", unit="text", disable=not show_progress)
            for s in range(0, len(miss_texts), self.flush_every):
                chunk = miss_texts[s : s + self.flush_every]
                if kind == "documents":
                    vecs = encoder.encode_documents(chunk, batch_size=batch_size)
                else:
                    vecs = encoder.encode_queries(chunk)
                self._write_shard(ns, miss_keys[s : s + self.flush_every],
                                  np.asarray(vecs, dtype=np.float32))
                bar.update(len(chunk))
            bar.close()
            if len(self._shards.get(ns, ())) > self.max_shards:
                self.compact(encoder, kind=kind)
        n_unique = len(set(q.tolist()))
        self.last_stats = CacheStats(texts=len(texts), unique=n_unique,
                                     hits=n_unique - len(missing), encoded=len(missing))
        if not texts:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        listed, found, rows = self._lookup(self._shards[ns], q)
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        for i, sh in enumerate(listed):
            at = np.flatnonzero(found == i)
            if at.size:
                out[at] = sh.gather(rows[at])
        return out

    def compact(self, encoder: TextEncoder, *, kind: str = "documents") -> int:
        """Merge all shards of one encoder into one; returns the number of vectors kept."""
        ns = self._namespace(encoder, kind)
        shards = self._load(ns)
        d = self._dir(ns)
        old = sorted(d.glob("shard-*.npz"))
        if len(old) <= 1:
            return self.size(encoder, kind=kind)
        listed = list(shards.values())
        keys = np.concatenate([sh.sorted for sh in listed]) if listed else np.empty(0, "S32")
        keys, first = np.unique(keys, return_index=True)  # first shard read wins
        owner = np.repeat(np.arange(len(listed)), [sh.sorted.size for sh in listed])[first]
        starts = np.cumsum([0] + [sh.sorted.size for sh in listed])[:-1]
        # gathered into a memory-mapped scratch file, so merging millions of vectors
        # never holds them in memory (np.savez streams it into the shard)
        from numpy.lib.format import open_memmap

        scratch = d / f".compact-{uuid.uuid4().hex[:8]}.npy"
        try:
            vecs = open_memmap(scratch, "w+", np.float32, (keys.size, encoder.dimension))
            for i, sh in enumerate(listed):
                at = np.flatnonzero(owner == i)
                vecs[at] = sh.gather(sh.order[first[at] - starts[i]])
            self._write_shard(ns, keys, vecs)
            del vecs
        finally:
            scratch.unlink(missing_ok=True)
        for shard in old:
            shard.unlink(missing_ok=True)
            self._shards[ns].pop(shard.name, None)
        return int(keys.size)

    def size(self, encoder: TextEncoder, *, kind: str = "documents") -> int:
        listed = self._load(self._namespace(encoder, kind)).values()
        return int(np.unique(np.concatenate([sh.sorted for sh in listed])).size) if listed else 0
