"""A toy static encoder for tests and benchmarks, never for serving.

Production code (``indexing`` outside ``training``, ``matcher``, ``api`` outside ``api.cli``)
never imports ``indexing.training``: checked by ``tests/test_training_separation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexing.encoders.encoder import SentenceEncoder, TextEncoder
from indexing.training.static_model import ASCII_TOKENS, CJK_RANGE, save_static_model


def make_tiny_encoder(path: Path, vocab: Sequence[str], dim: int = 32, seed: int = 0) -> TextEncoder:
    """A deterministic toy StaticEmbedding over ``vocab`` (plus its characters), saved at
    ``path`` as a normal sentence-transformers directory and loaded back. A word's vector
    is its own random direction plus the mean of its characters', so texts sharing words
    or characters are close. No teacher, no download; builds in well under a second."""
    words = list(dict.fromkeys(w for w in vocab if w and not w.isspace()))
    # Every CJK character and ASCII letter/digit is a token, as in the real model, so
    # WordPiece never turns a whole run of text into [UNK].
    singles = [chr(c) for c in range(CJK_RANGE[0], CJK_RANGE[1] + 1)] + ASCII_TOKENS
    word_set = set(words)
    chars = [c for c in dict.fromkeys(singles + sorted({c for w in words for c in w})) if c not in word_set]
    rng = np.random.default_rng(seed)
    tokens = words + chars
    char_vec = {c: rng.standard_normal(dim) for c in sorted({c for w in tokens for c in w})}
    rows = (np.stack([rng.standard_normal(dim) * 0.3 + np.mean([char_vec[c] for c in t], axis=0) for t in tokens])
            if tokens else np.zeros((0, dim)))
    save_static_model(Path(path), tokens, rows.astype(np.float32), info={"kind": "tiny", "seed": seed, "dim": dim})
    return SentenceEncoder(path)
