"""Record-clause vectors on the query path: a bounded per-text memo around the encoder.

The static-embedding math itself lives in ``indexing.encoders.static_encode``
(``StaticEncode`` / ``static_encode_for``), the one encode path of build and queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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


__all__ = ["MemoEncode", "shared_memo"]
