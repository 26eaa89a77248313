"""``patmatch eval --task feedback``: recorded outcomes as graded judgements.

Grades (per (subject, patent) pair, from its history): deal 3, negotiating 2, contacted 1
(the furthest state reached; a later rejection for price or maturity keeps it), rejected
as 不相关 0. A pair only viewed, or rejected for another reason before any contact, is not
judged. Reported:

- precision of pushes: of the delivered items with a judgement, the share graded >= 1,
  overall and per month of delivery;
- nDCG@k over time: each digest (subscription x bundle) is a ranked list in the order it
  was pushed, scored against the judgements, averaged per month (only digests with at
  least one judged item count);
- a judged set (``demand_id, patent_id, grade``) written to ``<home>/judged/
  feedback-qrels.tsv`` for the publish gate (``patmatch publish --judged ...``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

GRADE = {"deal": 3, "negotiating": 2, "contacted": 1}


def judgements(engine: Any) -> dict[str, dict[str, int]]:
    from indexing.store.tables_push import feedback_events as ev

    hist: dict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)
    with engine.connect() as conn:
        for subject, pid, state, reason in conn.execute(
                select(ev.c.subject, ev.c.patent_id, ev.c.to_state, ev.c.reason)
                .order_by(ev.c.id)):
            hist[(subject, pid)].append((state, reason))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (subject, pid), states in hist.items():
        best = max((GRADE.get(s, 0) for s, _ in states), default=0)
        last, reason = states[-1]
        if best:
            out[subject][pid] = best
        elif last == "rejected" and reason == "不相关":
            out[subject][pid] = 0
    return dict(out)


def _ndcg(grades: list[int], ideal: list[int], k: int) -> float:
    from matcher.relevance import dcg

    def gains(gs: list[int]) -> list[int]:
        return [2 ** g - 1 for g in gs[:k]]

    best = dcg(gains(sorted(ideal, reverse=True)))
    return dcg(gains(grades)) / best if best > 0 else 0.0


def evaluate_feedback(engine: Any, *, k: int = 10) -> dict[str, Any]:
    from indexing.store.tables_push import deliveries as d

    qrels = judgements(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(d.c.subscription_id, d.c.demand_id, d.c.patent_id,
                                   d.c.bundle, d.c.rank, d.c.sent_at)
                            .where(d.c.status == "sent")).all()
    judged = hit = 0
    per_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    lists: dict[tuple[str, str], list[tuple[int, str, str, str]]] = defaultdict(list)
    for sid, did, pid, bundle, rank, sent_at in rows:
        subject = did or f"sub:{sid}"
        lists[(sid, bundle)].append((rank, pid, subject, sent_at[:7]))
        g = qrels.get(subject, {}).get(pid)
        if g is None:
            continue
        judged += 1
        hit += g >= 1
        per_month[sent_at[:7]][0] += 1
        per_month[sent_at[:7]][1] += g >= 1
    ndcg_month: dict[str, list[float]] = defaultdict(list)
    for items in lists.values():
        items.sort()
        subject, month = items[0][2], items[0][3]
        q = qrels.get(subject, {})
        grades = [q.get(pid) for _, pid, _, _ in items]
        if all(g is None for g in grades):
            continue
        ndcg_month[month].append(_ndcg([g or 0 for g in grades], list(q.values()), k))
    return {
        "judged_pairs": sum(len(v) for v in qrels.values()),
        "pushed_items": len(rows), "pushed_judged": judged,
        "precision_of_pushes": round(hit / judged, 4) if judged else None,
        "precision_by_month": {m: round(h / n, 4) for m, (n, h) in sorted(per_month.items())},
        f"ndcg@{k}_by_month": {m: round(sum(v) / len(v), 4)
                               for m, v in sorted(ndcg_month.items())},
        "qrels": qrels,
    }


def write_judged(qrels: dict[str, dict[str, int]], path: Path) -> Path:
    """Demand subjects only (the gate ranks stored demands)."""
    from benchmarks.tasks import write_qrels

    return write_qrels({s: g for s, g in qrels.items() if not s.startswith("sub:")}, path)


def render(r: dict[str, Any], k: int = 10) -> str:
    p = r["precision_of_pushes"]
    lines = ["# Feedback evaluation (patmatch eval --task feedback)", "",
             f"judged pairs {r['judged_pairs']}; pushed items {r['pushed_items']}, judged "
             f"{r['pushed_judged']}; precision of pushes "
             f"{'n/a' if p is None else f'{p:.3f}'}", "",
             f"| month | precision of pushes | nDCG@{k} of digests |", "|---|---:|---:|"]
    nd = r[f"ndcg@{k}_by_month"]
    for m in sorted(set(r["precision_by_month"]) | set(nd)):
        lines.append(f"| {m} | {r['precision_by_month'].get(m, '-')} | {nd.get(m, '-')} |")
    return "\n".join(lines) + "\n"


__all__ = ["evaluate_feedback", "judgements", "render", "write_judged"]
