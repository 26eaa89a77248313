"""Quality evaluation of a bundle: the publish quality gate and the fusion study use it.

``evaluate_bundle`` runs the judged demands (a TSV ``demand_id, patent_id, grade``; the
demands must be in the bundle's demand side) through the batch kernels — the exact
ranking the ranker serves — and returns nDCG@10, Recall@10/100 and MRR@10.
The metrics and the qrels reader are ``matcher.relevance`` (the one definition, shared
with ``patmatch eval`` and the benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from matcher.config import FusionConfig
from matcher.relevance import mean_metrics, read_qrels
from patmatch.errors import InputError


def run_queries(ranker: Any, queries: Mapping[str, str | None], *, k: int = 100,
                fusion: FusionConfig | None = None, filters: Any = None) -> dict[str, list[str]]:
    """Ranked patent ids per query. ``None`` text = a demand id of the bundle (its stored
    vector); otherwise free text, encoded as queries in one batch."""
    from matcher.kernels import rank_block
    from matcher.kernels import lexical_query_matrix

    fusion = fusion or ranker.config
    fusion = FusionConfig.from_dict({**fusion.to_dict(), "depth": max(k, 1),
                                     "candidates": max(fusion.candidates, (k + 1) // 2)})
    side = ranker.bundle.patents
    dem = ranker.bundle.demands
    mask = side.mask(filters) if filters is not None else side.mask(_default_filters())
    ids = list(queries)
    texts, vecs, todo = [], [], []
    from matcher.queries import record_text

    for i, q in enumerate(ids):
        t = queries[q]
        if t is None:
            row = dem.row_of(q)
            if row is None:
                raise InputError(f"query {q!r} has no text and is not a demand of the bundle")
            texts.append(record_text(dem.doc(row), "demands"))
            vecs.append(np.asarray(dem.vectors[row], dtype=np.float32))
        else:
            texts.append(t)
            vecs.append(None)
            todo.append(i)
    if todo:
        enc = ranker.encoder.encode_queries([texts[i] for i in todo])
        for j, i in enumerate(todo):
            vecs[i] = enc[j]
    out: dict[str, list[str]] = {}
    bs = 512
    from matcher.expansion import expander_for

    expander = expander_for(side, ranker.tokenizer, fusion)
    for lo in range(0, len(ids), bs):
        hi = min(lo + bs, len(ids))
        qm = lexical_query_matrix(side, ranker.tokenizer, texts[lo:hi], expander)
        _, fused = rank_block(side, None, np.stack(vecs[lo:hi]).astype(np.float32),
                              fusion=fusion, limit=k, mask=mask, query_matrix=qm)
        for i in range(hi - lo):
            out[ids[lo + i]] = [side.ids[r] for r in fused["rows"][i] if r >= 0]
    return out


def _default_filters() -> Any:
    from indexing.index.filters import Filters

    return Filters()


def evaluate_bundle(bundle_path: str | Path, qrels_path: str | Path, *,
                    fusion: FusionConfig | None = None, tokenizer: Any = None,
                    encoder: Any = None) -> dict[str, float]:
    """nDCG@10, Recall@10/100, MRR@10 of the bundle on a judged demand set (publish gate)."""
    from matcher.ranker import HybridRanker

    ranker = HybridRanker.from_bundle(Path(bundle_path), config=fusion, tokenizer=tokenizer,
                                      encoder=encoder)
    bundle = ranker.bundle
    qrels = read_qrels(qrels_path)
    present = {q: None for q in qrels if bundle.demands.row_of(q) is not None}
    if not present:
        raise InputError(f"none of the {len(qrels)} judged demands in {qrels_path} is in bundle "
                         f"{bundle.build_id}; expected demand ids of its demand side")
    runs = run_queries(ranker, present, k=100, fusion=fusion)
    out = mean_metrics(runs, {q: qrels[q] for q in present})
    out["missing_queries"] = float(len(qrels) - len(present))
    return out


def judged_set_path(settings: Any, judged: str | Path | None = None,
                    config: Any = None) -> Path:
    """The judged set for the gate: ``judged`` if given (must exist), else the build
    config's ``judged_path``, else ``<home>/judged/qrels.tsv``."""
    if judged is not None:
        if not Path(judged).is_file():
            raise InputError(f"judged set {judged} does not exist; expected a qrels.tsv "
                             "(demand_id, patent_id, grade)", details={"judged": str(judged)})
        return Path(judged)
    if config is not None and getattr(config, "judged_path", None):
        return Path(config.judged_path)
    return Path(settings.home) / "judged" / "qrels.tsv"


def quality_gate(settings: Any, judged: str | Path | None = None, config: Any = None, *,
                 warn: Callable[[str], None]) -> Callable[[Path], dict[str, float]] | None:
    """The one gate factory (CLI publish, nightly, API publish): an evaluator bound to the
    judged set, or None after ``warn`` when there is no judged set (the gate is skipped)."""
    path = judged_set_path(settings, judged, config)
    if not path.is_file():
        warn(f"judged set {path} not found; quality gate skipped "
             "(copy demo qrels.tsv there or pass --judged)")
        return None
    return lambda bundle_path: evaluate_bundle(bundle_path, path)
