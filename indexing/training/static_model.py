"""The on-disk form of a static encoder: a WordPiece tokenizer and a token table saved as
a sentence-transformers [StaticEmbedding, Normalize] directory.

Used by every recipe that produces a static model (``distill``, ``tokenlearn``) and by the
toy test encoder (``tiny_encoder``). Serving only ever *loads* such a directory
(``indexing.encoders.encoder``); nothing here runs while serving.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConfigError

DISTILL_VERSION = "1"
UNK = "[UNK]"
CJK_RANGE = (0x4E00, 0x9FFF)
ASCII_TOKENS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
# CJK runs, ASCII letter runs, numbers, and any other single character, each a "word".
PRE_TOKEN_PATTERN = r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z]+|[0-9]+|[^\s]"


def build_tokenizer(tokens: Sequence[str]) -> Any:
    """WordPiece over ``[UNK] + tokens`` with an empty continuation prefix."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    vocab = {UNK: 0}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(
        WordPiece(vocab=vocab, unk_token=UNK, continuing_subword_prefix="", max_input_chars_per_word=1_000_000)
    )
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PRE_TOKEN_PATTERN), behavior="isolated")
    return tok


def save_static_model(path: Path, tokens: Sequence[str], rows: np.ndarray, *, info: dict[str, Any],
                      fp16: bool = False) -> Path:
    """Save ``tokens``/``rows`` as a sentence-transformers StaticEmbedding + Normalize
    directory, atomically (built beside ``path``, then renamed into place)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    tokens = list(tokens)
    if rows.shape[0] != len(tokens):
        raise ConfigError(f"expected one row per token ({len(tokens)}), got {rows.shape[0]} rows")
    tok = build_tokenizer(tokens)
    if tok.get_vocab_size() != len(tokens) + 1:
        raise ConfigError("tokens must be unique and must not include [UNK]")
    table = np.zeros((len(tokens) + 1, rows.shape[1]), dtype=np.float32)
    table[1:] = rows
    weights = torch.from_numpy(table)
    static = StaticEmbedding(tok, embedding_weights=weights.half() if fp16 else weights)
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        model.save(str(tmp))
        meta = {"distill_version": DISTILL_VERSION, "vocab_size": len(tokens) + 1,
                "dimension": int(rows.shape[1]), **info}
        (tmp / "patmatch_encoder.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
        # mkdtemp/safetensors create owner-only modes; a shared model must be world-readable
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            atomic_rename(path, old)
        atomic_rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
