"""Word tokens of a build, coded to term ids chunk by chunk, with an on-disk cache.

``TokenCoder.code(texts)`` gives the provisional term ids (``postings.WordSpace``) of
every token of ``texts``, tokenizing only the texts the cache does not hold. The cache
holds, per tokenizer fingerprint, the tokens of every text of the last build as arrays:
sorted sha1 keys, (start, end) spans into one int32 array of term ids, and the term list.
It is opened memory-mapped and looked up by binary search, so a rebuild after a few
changes tokenizes only those without holding a token list per text in memory; it is
rewritten (into a new generation directory, then the ``CURRENT`` pointer is switched
atomically) with just the texts of this build, so it never grows beyond one corpus.
A missing or broken cache is only a miss.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from indexing.build.postings import IdMap

_KEY = "S20"


def tokenize_many(tokenizer: Any, texts: list[str]) -> list[list[str]]:
    """Tokens per text; each distinct text is tokenized once.

    One process on purpose: a forked second worker measured slower on the 2-core build
    host (copy-on-write faults over a ~1.4 GB heap in both processes, and pickling ~2M
    token strings back), and threads cannot help while the post-processing in
    ``ChineseTokenizer.tokenize`` is Python."""
    uniq = list(dict.fromkeys(texts))
    if hasattr(tokenizer, "tokenize_many"):
        done = [list(t) for t in tokenizer.tokenize_many(uniq)]
    else:
        done = [list(tokenizer.tokenize(t)) for t in uniq]
    if len(uniq) == len(texts):
        return done
    by_text = dict(zip(uniq, done, strict=True))
    return [by_text[t] for t in texts]


class WordList:
    """Dense ids of the words of this build, in order of first sight (both sides)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def ids(self, tokens: Iterable[str], count: int) -> np.ndarray:
        index = self.index
        return np.fromiter((index.setdefault(t, len(index)) for t in tokens), dtype=np.int64,
                           count=count)

    def terms(self) -> list[str]:
        return list(self.index)


class TokenCoder:
    """Texts -> (tokens per text, term ids), through the cache when given a directory
    and the tokenizer has a fingerprint. ``words`` numbers every word of the build."""

    def __init__(self, tokenizer: Any, directory: Path | None) -> None:
        self.tokenizer = tokenizer
        self.words = WordList()
        fp = getattr(tokenizer, "fingerprint", None)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(fp))
        self.root = directory / safe if directory is not None and fp else None
        self.keys = np.empty(0, dtype=_KEY)
        self.spans = np.empty((0, 2), dtype=np.int64)
        self._flat_path: Path | None = None
        self.terms: list[str] = []
        if self.root is not None:
            self._open()
        self._gid = np.full(len(self.terms), -1, dtype=np.int64)  # cache term -> word id
        self._new: Path | None = None
        self._new_keys: list[np.ndarray] = []
        self._new_spans: list[np.ndarray] = []
        self._written = 0

    def _open(self) -> None:
        try:
            gen = self.root / (self.root / "CURRENT").read_text(encoding="utf-8").strip()
            keys = np.load(gen / "keys.npy")
            spans = np.load(gen / "spans.npy")
            flat = np.load(gen / "flat.npy", mmap_mode="r")
            terms = json.loads((gen / "terms.json").read_text(encoding="utf-8"))
            ok = (keys.dtype == np.dtype(_KEY) and spans.shape == (keys.size, 2)
                  and (spans.size == 0 or int(spans[:, 1].max()) <= flat.size))
        except Exception:  # noqa: BLE001 - a broken cache is only a miss
            return
        if ok:  # the ids are mapped per chunk (_word_ids): read pages leave the RSS again
            self.keys, self.spans, self.terms = keys, spans, terms
            self._flat_path = gen / "flat.npy"

    def code(self, texts: Sequence[str], space: IdMap) -> tuple[np.ndarray, np.ndarray]:
        """(tokens per text, ``space`` id of every token, text after text)."""
        keys = np.array([hashlib.sha1(t.encode("utf-8")).digest() for t in texts], dtype=_KEY)
        parts: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(texts)
        hit = np.zeros(len(texts), dtype=bool)
        if self.keys.size:
            at = np.searchsorted(self.keys, keys).clip(max=self.keys.size - 1)
            hit = self.keys[at] == keys
            got = np.flatnonzero(hit)
            if got.size:
                span = self.spans[at[got]]
                try:
                    self._split(parts, got, span[:, 1] - span[:, 0], self._word_ids(span))
                except (ValueError, IndexError, OSError):  # a broken cache is only a miss
                    self.keys = np.empty(0, dtype=_KEY)
                    hit[:] = False
        miss = np.flatnonzero(~hit)
        if miss.size:
            toks = tokenize_many(self.tokenizer, [texts[i] for i in miss.tolist()])
            n = np.array([len(t) for t in toks], dtype=np.int64)
            self._split(parts, miss, n, self.words.ids(chain.from_iterable(toks), int(n.sum())))
        lens = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        flat = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if self.root is not None:
            self._remember(keys, lens, flat)
        return lens, space.ids(flat)

    @staticmethod
    def _split(parts: list[np.ndarray], where: np.ndarray, lens: np.ndarray,
               ids: np.ndarray) -> None:
        ends = np.cumsum(lens)
        for i, s, e in zip(where.tolist(), (ends - lens).tolist(), ends.tolist(), strict=True):
            parts[i] = ids[s:e]

    def _word_ids(self, span: np.ndarray) -> np.ndarray:
        """Word ids of the cached tokens in ``span`` rows, one after the other."""
        lens = span[:, 1] - span[:, 0]
        idx = np.repeat(span[:, 0] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) \
            + np.arange(int(lens.sum()), dtype=np.int64)
        flat = np.load(self._flat_path, mmap_mode="r")
        cached = np.asarray(flat[idx], dtype=np.int64)
        del flat
        if cached.size and int(cached.max()) >= len(self.terms):
            raise ValueError("token cache ids beyond its term list")
        unmapped = np.unique(cached[self._gid[cached] < 0])
        index, terms = self.words.index, self.terms
        for c in unmapped.tolist():
            self._gid[c] = index.setdefault(terms[c], len(index))
        return self._gid[cached]

    def _remember(self, keys: np.ndarray, lens: np.ndarray, flat: np.ndarray) -> None:
        try:
            if self._new is None:
                self._new = self.root / f"gen-{secrets.token_hex(4)}"
                self._new.mkdir(parents=True)
            with open(self._new / "flat.bin", "ab") as fh:
                fh.write(flat.astype(np.int32).tobytes())
        except OSError:  # e.g. a concurrent build pruned it: this build just caches nothing
            self.discard()
            self.root = None
            return
        ends = self._written + np.cumsum(lens)
        self._new_keys.append(keys)
        self._new_spans.append(np.stack([ends - lens, ends], axis=1))
        self._written += int(flat.size)

    def save(self) -> None:
        """Make this build's texts the cache (owner-only files: they hold record text).
        Best effort: a cache that cannot be written is only a miss next time."""
        if self.root is None or self._new is None:
            return
        try:
            self._save(self._new)
        except Exception:  # noqa: BLE001 - e.g. a concurrent build pruned this generation
            self.discard()

    def _save(self, gen: Path) -> None:
        from numpy.lib.format import open_memmap

        from patmatch.atomic_io import PRIVATE, atomic_write_text

        keys = np.concatenate(self._new_keys)
        spans = np.concatenate(self._new_spans)
        keys, first = np.unique(keys, return_index=True)
        np.save(gen / "keys.npy", keys)
        np.save(gen / "spans.npy", spans[first])
        raw = np.memmap(gen / "flat.bin", dtype=np.int32, mode="r") if self._written else \
            np.empty(0, dtype=np.int32)
        flat = open_memmap(gen / "flat.npy", "w+", np.int32, (self._written,))
        for lo in range(0, self._written, 1 << 24):  # block by block: never all in memory
            flat[lo: lo + (1 << 24)] = raw[lo: lo + (1 << 24)]
        flat.flush()
        del flat, raw
        (gen / "flat.bin").unlink(missing_ok=True)
        (gen / "terms.json").write_text(json.dumps(self.words.terms(), ensure_ascii=False),
                                        encoding="utf-8")
        for p in gen.iterdir():
            p.chmod(PRIVATE)
        self.keys = self.spans = None
        atomic_write_text(self.root / "CURRENT", gen.name, mode=PRIVATE)
        for old in self.root.glob("gen-*"):
            if old != gen:
                shutil.rmtree(old, ignore_errors=True)
        self._new = None

    def discard(self) -> None:
        if self._new is not None:
            shutil.rmtree(self._new, ignore_errors=True)
            self._new = None


__all__ = ["TokenCoder", "WordList", "tokenize_many"]
