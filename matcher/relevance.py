"""Ranking quality over graded judgements: the one definition of the IR metrics and the
one reader of judged sets (qrels), used by the publish quality gate
(``matcher.evaluate``), ``patmatch eval`` and every benchmark.

- nDCG@k: Järvelin & Kekäläinen (2002), gain = 2**grade - 1, log2 discount; the ideal
  ranking is built from all judged documents of the query (trec_eval convention).
- Recall@k: share of documents with grade >= ``min_grade`` found in the top k.
- MRR@k: reciprocal rank of the first document with grade >= ``min_grade``.
Queries with no relevant documents are skipped by ``mean_metrics`` (and counted).

A qrels file is a TSV ``query_id, doc_id, grade`` (an optional header row of any names;
a UTF-8 BOM is accepted; ``#`` lines are comments).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from patmatch.errors import FileFormatError

Qrels = dict[str, dict[str, int]]


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    gains = [2 ** judged.get(d, 0) - 1 for d in ranked[:k]]
    ideal = sorted((2**g - 1 for g in judged.values() if g > 0), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(gains) / best if best > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 100, *,
                min_grade: int = 1) -> float:
    relevant = {d for d, g in judged.items() if g >= min_grade}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10, *,
             min_grade: int = 1) -> float:
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) >= min_grade:
            return 1.0 / (i + 1)
    return 0.0


def mean_metrics(
    runs: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    ndcg_k: int = 10,
    recall_ks: Sequence[int] = (10, 100),
    mrr_k: int = 10,
) -> dict[str, float]:
    """Mean of each metric over the judged queries that have a relevant document (a
    missing run counts as empty); ``queries`` = how many were averaged."""
    names = [f"ndcg@{ndcg_k}", *[f"recall@{k}" for k in recall_ks], f"mrr@{mrr_k}"]
    totals = dict.fromkeys(names, 0.0)
    n = 0
    for qid, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranked = list(runs.get(qid, ()))
        n += 1
        totals[f"ndcg@{ndcg_k}"] += ndcg_at_k(ranked, judged, ndcg_k)
        for k in recall_ks:
            totals[f"recall@{k}"] += recall_at_k(ranked, judged, k)
        totals[f"mrr@{mrr_k}"] += mrr_at_k(ranked, judged, mrr_k)
    out = {name: (v / n if n else 0.0) for name, v in totals.items()}
    out["queries"] = float(n)
    return out


def read_qrels(path: str | Path) -> Qrels:
    """Judgements from a qrels TSV (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"judged set not found: expected a qrels TSV file "
                              f"(query_id, doc_id, grade) at {path}", details={"path": str(path)})
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [(n, row) for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1)
                if row and any(c.strip() for c in row) and not row[0].startswith("#")]
    if rows and len(rows[0][1]) >= 3 and not rows[0][1][2].strip().lstrip("-").isdigit():
        rows = rows[1:]  # a header
    qrels: Qrels = {}
    for n, row in rows:
        if len(row) < 3:
            raise FileFormatError(f"{path.name} row {n}: expected 3 tab-separated columns "
                                  f"query_id, doc_id, grade; got {row!r}")
        try:
            grade = int(row[2])
        except ValueError:
            raise FileFormatError(f"{path.name} row {n}: grade must be an integer, "
                                  f"got {row[2]!r}") from None
        qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels


__all__ = ["Qrels", "dcg", "mean_metrics", "mrr_at_k", "ndcg_at_k", "read_qrels", "recall_at_k"]
