"""Batch query sources: the queries of a batch job, row-aligned (ids, texts for tokens,
titles for the output, chains for reasons, vectors when already encoded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexing.index.filters import Filters


@dataclass(frozen=True)
class Queries:
    """Row-aligned queries: ids, texts (for tokens), vectors (None = encode), chains."""

    ids: list[str]
    texts: list[str]
    titles: list[str]
    chains: list[list[str]]
    vectors: np.ndarray | None = None


def record_text(doc: dict[str, Any], side: str) -> str:
    """The query text of a record: title + body, the way the bundle indexed it."""
    title = str(doc.get("title") or "").strip()
    body_key = "abstract" if side == "patents" else "text"
    body = str(doc.get(body_key) or doc.get("text") or doc.get("abstract") or "").strip()
    return f"{title}。{body}" if title and body else (title or body)


def chains_column(side: Any) -> list[list[str]]:
    if "chains" not in side.facets.columns:
        return [[] for _ in side.ids]
    return [list(c) if c is not None else [] for c in side.facets["chains"].to_list()]


def queries_from_records(records: Sequence[Any]) -> Queries:
    """File demands (already validated by ``read_records``), personal data masked."""
    from indexing.privacy import mask_demand

    recs = [mask_demand(r) for r in records]
    texts = [f"{r.title}。{r.text}" if r.title else r.text for r in recs]
    return Queries([r.id for r in recs], texts, [r.title or r.text[:20] for r in recs],
                   [[r.chain] if r.chain else [] for r in recs], None)


def queries_from_side(side: Any, kind: str, filters: Filters | None = None) -> Queries:
    """Every record of a bundle side (optionally filtered), with its stored vectors."""
    mask = side.mask(filters) if filters is not None else None
    rows = np.arange(len(side.ids)) if mask is None else np.flatnonzero(mask)
    docs = side.docs
    chains = chains_column(side)
    texts, titles = [], []
    for r in rows.tolist():
        d = docs.row(r, named=True)
        texts.append(record_text(d, kind))
        titles.append(str(d.get("title") or ""))
    return Queries([side.ids[r] for r in rows.tolist()], texts, titles,
                   [chains[r] for r in rows.tolist()],
                   np.asarray(side.vectors, dtype=np.float32)[rows])
