"""Quality regression on the shared judged demand set (../shared/data/demands_dev).

Floors from the fusion study (benchmarks/results/fusion_study-*.md), default fusion =
linear min-max 1:0.25: with the distilled default encoder nDCG@10 = 0.619 (BM25 alone
0.548); with the LSA stand-in (when no default encoder is present) 0.575. The floors
leave room for tokenizer-dictionary drift, not for a broken fusion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.config import FusionConfig

FLOOR_NDCG10 = {"default": 0.58, "lsa": 0.55}


@pytest.mark.slow  # ~35 s on the shared 2-core machine (tokenises 3,720 patents)
def test_default_fusion_beats_bm25_on_demands_dev(shared_data: Path) -> None:
    from benchmarks.fusion_study import _dense
    from benchmarks.tasks import load_task
    from indexing.encoders.encoder import default_model_dir
    from indexing.index.sparse import SparseIndex
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.kernels import dense_topk, lexical_topk
    from matcher.relevance import mean_metrics as metrics
    from matcher.fusion import fuse_arrays
    from patmatch.errors import PatmatchError

    try:
        default_model_dir()
        encoder = "default"
    except PatmatchError:
        encoder = "lsa"
    task = load_task("demands_dev", shared_data)
    tok = ChineseTokenizer()
    title = [tok.tokenize(r.title or "") for r in task.corpus]
    abstract = [tok.tokenize(r.abstract or "") for r in task.corpus]
    claims = [tok.tokenize((r.claims or "")[:1500]) for r in task.corpus]
    sparse = SparseIndex.build({"title": title, "abstract": abstract, "claims": claims},
                               {"title": 2.0, "abstract": 1.0, "claims": 0.5})
    qids = sorted(q for q in task.queries if q in task.qrels)
    qtexts = [task.queries[q] for q in qids]
    qtoks = [tok.tokenize(t) for t in qtexts]
    dv, qv = _dense(encoder, task.corpus, [a + b for a, b in zip(title, abstract)], qtexts, qtoks)
    lr, ls = lexical_topk(sparse.query_matrix(qtoks), sparse.doc_matrix(), 200, None)
    dr, ds = dense_topk(qv, dv, 200, None)
    ids = [r.id for r in task.corpus]

    def score(f: FusionConfig) -> dict[str, float]:
        fused = fuse_arrays(lr, ls, dr, ds, method=f.method, weights=f.weights, rrf_k=f.rrf_k,
                            norm=f.norm, limit=100)
        runs = {q: [ids[r] for r in fused["rows"][i] if r >= 0] for i, q in enumerate(qids)}
        return metrics(runs, task.qrels)

    default = score(FusionConfig())
    bm25 = score(FusionConfig(weights=(1.0, 0.0)))
    assert default["queries"] == 70
    assert default["ndcg@10"] >= FLOOR_NDCG10[encoder], (encoder, default)
    assert default["ndcg@10"] > bm25["ndcg@10"], (default, bm25)
    assert np.isfinite(default["mrr@10"])
