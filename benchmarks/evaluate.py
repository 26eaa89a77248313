"""Evaluate retrieval systems on a :class:`benchmarks.tasks.Task`.

A *system* is any callable ``(queries: {qid: text}) -> {qid: [doc_id, ...]}`` (best
first). Systems compared here:

- ``bm25``: bm25s over our tokenizer (lexical only);
- ``dense``: the encoder, exact inner product over L2-normalised vectors (dense only);
- fusions of the two top-``depth`` lists with ``matcher.fusion``: ``rrf``,
  ``weighted_rrf:<wl>:<wd>`` and ``linear:<norm>`` (min-max, z-score, L2);
- ``ranker:<method>``: the real ``matcher.ranker.HybridRanker`` over a bundle built with
  ``indexing.build.pipeline.build_bundle`` (when those modules exist; see ``ranker_systems``).

Ablations: ``tokenizer_ablation`` (characters vs jieba vs jieba + domain dictionary, BM25
only) and ``encoder_ablation`` (dense only, one row per encoder).

Metrics come from ``matcher/relevance.py`` (nDCG@10, Recall@10/100, MRR@10), plus
precision@k for class-judged tasks, overall and per query group (industry chain for the
demo set; industry/discipline elsewhere; or chains assigned by the labeler).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher.relevance import mean_metrics
from benchmarks.report import EvalResult
from benchmarks.tasks import Task

Ranked = dict[str, list[str]]
Scored = dict[str, list[tuple[str, float]]]
System = Callable[[Mapping[str, str]], Ranked]
# Fusion variants evaluated by default: the matcher helper picks its default from these.
FUSIONS: tuple[str, ...] = (
    "rrf", "weighted_rrf:1.0:0.5", "weighted_rrf:0.5:1.0", "linear:minmax", "linear:zscore",
    "linear:l2",
)


# --- systems ------------------------------------------------------------------------
class Bm25Baseline:
    """bm25s (default k1/b) over ``tokenize``; zero-score documents are not hits."""

    def __init__(self, corpus: Sequence[Any], tokenize: Callable[[str], list[str]],
                 *, depth: int = 100, tokenize_many: Callable[[list[str]], list[list[str]]] | None = None) -> None:
        import bm25s

        self.ids = [r.id for r in corpus]
        self.tokenize = tokenize
        self.depth = depth
        texts = [r.text for r in corpus]
        docs = tokenize_many(texts) if tokenize_many else [tokenize(t) for t in texts]
        self.retriever = bm25s.BM25()
        self.retriever.index([d or [""] for d in docs], show_progress=False)

    def scored(self, queries: Mapping[str, str]) -> Scored:
        out: Scored = {}
        k = min(self.depth, len(self.ids))
        for qid, text in queries.items():
            tokens = self.tokenize(text)
            if not tokens:
                out[qid] = []
                continue
            scores = self.retriever.get_scores(tokens)
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            out[qid] = [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
        return out

    def __call__(self, queries: Mapping[str, str]) -> Ranked:
        return {q: [d for d, _ in v] for q, v in self.scored(queries).items()}


class DenseBaseline:
    """Exact inner product over the encoder's L2-normalised document vectors."""

    def __init__(self, corpus: Sequence[Any], encoder: Any, *, depth: int = 100) -> None:
        self.ids = [r.id for r in corpus]
        self.encoder = encoder
        self.depth = depth
        self.vectors = np.asarray(encoder.encode_documents([r.text for r in corpus]), dtype=np.float32)

    def scored(self, queries: Mapping[str, str]) -> Scored:
        qids = list(queries)
        if not qids:
            return {}
        qv = np.asarray(self.encoder.encode_queries([queries[q] for q in qids]), dtype=np.float32)
        sims = qv @ self.vectors.T
        k = min(self.depth, sims.shape[1])
        out: Scored = {}
        for qi, qid in enumerate(qids):
            s = sims[qi]
            top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
            top = top[np.argsort(-s[top], kind="stable")]
            out[qid] = [(self.ids[i], float(s[i])) for i in top]
        return out

    def __call__(self, queries: Mapping[str, str]) -> Ranked:
        return {q: [d for d, _ in v] for q, v in self.scored(queries).items()}


def fuse(lexical: Scored, dense: Scored, method: str, *, depth: int = 100) -> Ranked:
    """Fuse two scored runs with ``matcher.fusion`` (``rrf``, ``weighted_rrf:wl:wd``,
    ``linear:<norm>[:wl:wd]``)."""
    from matcher import fusion

    parts = method.split(":")
    out: Ranked = {}
    for qid in set(lexical) | set(dense):
        lex, den = lexical.get(qid, []), dense.get(qid, [])
        if parts[0] == "rrf":
            fused = fusion.rrf([[d for d, _ in lex], [d for d, _ in den]])
        elif parts[0] == "weighted_rrf":
            w = [float(parts[1]), float(parts[2])] if len(parts) == 3 else None
            fused = fusion.rrf([[d for d, _ in lex], [d for d, _ in den]], weights=w)
        elif parts[0] == "linear":
            norm = parts[1] if len(parts) > 1 else "minmax"
            w = [float(parts[2]), float(parts[3])] if len(parts) == 4 else None
            fused = fusion.linear([lex, den], norm=norm, weights=w)  # type: ignore[arg-type]
        else:
            from patmatch.errors import InputError

            raise InputError("fusion method must be rrf, weighted_rrf:wl:wd or linear:norm; "
                             f"got {method!r}")
        out[qid] = [str(d) for d, _ in fused[:depth]]
    return out


def baseline_systems(task: Task, tokenizer: Any, encoder: Any | None, *,
                     fusions: Sequence[str] = FUSIONS, depth: int = 100) -> dict[str, System]:
    """BM25, dense and each fusion, sharing one pass of each retriever over the queries."""
    bm25 = Bm25Baseline(task.corpus, tokenizer.tokenize, depth=depth,
                        tokenize_many=getattr(tokenizer, "tokenize_many", None))
    systems: dict[str, System] = {"bm25": bm25}
    if encoder is None:
        return systems
    dense = DenseBaseline(task.corpus, encoder, depth=depth)
    systems["dense"] = dense
    cache: dict[str, tuple[Scored, Scored]] = {}

    def both(queries: Mapping[str, str]) -> tuple[Scored, Scored]:
        key = json.dumps(sorted(queries.items()), ensure_ascii=False)
        if key not in cache:
            cache.clear()
            cache[key] = (bm25.scored(queries), dense.scored(queries))
        return cache[key]

    for m in fusions:
        systems[m] = (lambda mm: (lambda q: fuse(*both(q), mm, depth=depth)))(m)
    return systems


RANKER_VARIANTS: dict[str, dict[str, Any]] = {
    "ranker:lexical": {"method": "weighted_rrf", "weights": (1.0, 0.0)},
    "ranker:semantic": {"method": "weighted_rrf", "weights": (0.0, 1.0)},
    "ranker:default": {},
    "ranker:rrf": {"method": "rrf"},
    "ranker:linear": {"method": "linear", "norm": "minmax", "lexical_bound": 0.0},  # plain min-max
}


def ranker_systems(task: Task, tokenizer: Any, encoder: Any, *, out_dir: Path,
                   variants: Mapping[str, Mapping[str, Any]] | None = None,
                   depth: int = 100) -> dict[str, System]:
    """The production path: build a bundle from the task corpus with
    ``indexing.build.pipeline.build_bundle`` and rank with ``matcher.ranker.HybridRanker`` under
    each ``FusionConfig`` variant (``ranker:default`` is the shipped default).

    Returns ``{}`` when the bundle builder or the ranker is not available yet.
    """
    try:
        from indexing.build.pipeline import build_bundle  # noqa: F401 - available yet?
        from indexing.index.bundle import IndexBundle
        from indexing.index.filters import Filters
        from matcher.config import FusionConfig
        from matcher.ranker import HybridRanker
    except ImportError:
        return {}
    path = task_bundle(task, tokenizer, encoder, out_dir)
    bundle = IndexBundle.load(path)
    ranker = HybridRanker(bundle, tokenizer, encoder)
    everything = Filters(valid_only=False)

    def system(cfg: Any) -> System:
        def run(queries: Mapping[str, str]) -> Ranked:
            out: Ranked = {}
            for q, t in queries.items():
                ml = ranker.match_text(t, filters=everything, limit=depth, fusion=cfg,
                                       explain=False, semantic_reason=False)
                out[q] = [m.record_id for m in ml.items]
            return out
        return run

    base = FusionConfig()
    systems: dict[str, System] = {}
    for name, kw in (variants or RANKER_VARIANTS).items():
        cfg = FusionConfig.from_dict({**base.to_dict(), **kw,
                                      "candidates": max(base.candidates, depth)})
        systems[name] = system(cfg)
    return systems


# --- evaluation ---------------------------------------------------------------------
def precision_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    return sum(1 for d in ranked[:k] if judged.get(d, 0) > 0) / k


def _metrics(runs: Ranked, qrels: Mapping[str, Mapping[str, int]], precision_ks: Sequence[int]) -> dict[str, float]:
    m = mean_metrics(runs, qrels)
    for k in precision_ks:
        judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
        m[f"precision@{k}"] = (sum(precision_at_k(runs.get(q, []), qrels[q], k) for q in judged)
                               / len(judged)) if judged else 0.0
    return m


def evaluate(task: Task, systems: Mapping[str, System], *,
             groups: Mapping[str, Sequence[str]] | None = None, min_group_queries: int = 3,
             ) -> EvalResult:
    """Run each system on the task's queries; metrics overall and per group.

    ``groups`` overrides ``task.query_groups`` (e.g. chains assigned by the labeler).
    Groups with fewer than ``min_group_queries`` judged queries are not reported alone.
    """
    qgroups = groups if groups is not None else task.query_groups
    members: dict[str, list[str]] = defaultdict(list)
    for qid, gs in qgroups.items():
        for g in gs:
            members[g].append(qid)
    result = EvalResult(task.name, task.summary())
    for name, system in systems.items():
        t0 = time.perf_counter()
        runs = system(task.queries)
        seconds = time.perf_counter() - t0
        if task.exclude:
            runs = {q: [d for d in v if d not in task.exclude.get(q, ())] for q, v in runs.items()}
        row = {"system": name, "group": "all", **_metrics(runs, task.qrels, task.precision_ks),
               "seconds": round(seconds, 3),
               "queries_per_s": round(len(task.queries) / seconds, 1) if seconds > 0 else None}
        result.rows.append(row)
        for g in sorted(members):
            sub = {q: task.qrels[q] for q in members[g] if q in task.qrels}
            if len(sub) < min_group_queries:
                continue
            result.rows.append({"system": name, "group": g,
                                **_metrics(runs, sub, task.precision_ks)})
    return result


def task_bundle(task: Task, tokenizer: Any, encoder: Any, out_dir: Path, *,
                config: Any = None, cache: Any = None) -> Path:
    """A task's corpus and demands built into a bundle at ``out_dir`` by the production
    build, labelled by the rule labeler; the one recipe of ``patmatch eval`` and the
    studies. ``config`` defaults to ``BuildConfig(keep_invalid=True)``: the judged
    documents must all be rankable, whatever their legal status."""
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build_bundle

    return build_bundle(list(task.corpus), list(task.demands), out_dir=out_dir,
                        tokenizer=tokenizer, encoder=encoder, labeler=default_labeler(tokenizer),
                        config=config if config is not None else BuildConfig(keep_invalid=True),
                        cache=cache)


def default_labeler(tokenizer: Any) -> Any:
    try:
        from labeling_spec import Labeler

        return Labeler.load(tokenize=tokenizer.tokenize)
    except ImportError:
        return None


def labeler_groups(task: Task) -> dict[str, tuple[str, ...]]:
    """Industry chains of each query as assigned by the labeler ({} if unavailable)."""
    try:
        from labeling_spec import Labeler

        labeler = Labeler.load()
        if task.demands:
            labels = labeler.label_demands(list(task.demands))
            return {lab.record_id: tuple(lab.chains) for lab in labels if lab.chains}
    except (ImportError, AttributeError):
        return {}
    return {}


# --- ablations ----------------------------------------------------------------------
TOKENIZER_VARIANTS: dict[str, dict[str, Any]] = {
    "chars": {"mode": "chars"},
    "jieba": {"domain_dict": False},
    "jieba+domain": {"domain_dict": True},
}


def tokenizer_ablation(task: Task, *, depth: int = 100) -> EvalResult:
    """BM25 with each tokenizer variant (characters, jieba, jieba + domain dictionary)."""
    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

    systems: dict[str, System] = {}
    for name, kw in TOKENIZER_VARIANTS.items():
        tok = ChineseTokenizer(TokenizerConfig(**kw))
        systems[f"bm25[{name}]"] = Bm25Baseline(task.corpus, tok.tokenize, depth=depth,
                                               tokenize_many=tok.tokenize_many)
    return evaluate(task, systems, groups={})


def encoder_ablation(task: Task, encoders: Mapping[str, Any], *, depth: int = 100) -> EvalResult:
    """Dense-only retrieval with each encoder (name -> TextEncoder)."""
    # a model directory is labelled by its last path component
    systems: dict[str, System] = {f"dense[{Path(n).name or n}]": DenseBaseline(task.corpus, e, depth=depth)
                                  for n, e in encoders.items()}
    return evaluate(task, systems, groups={})


# --- the `patmatch eval` driver -------------------------------------------------------
def run_eval(tasks: Sequence[Task], *, tokenizer: Any, encoders: Mapping[str, Any],
             fusions: Sequence[str] = FUSIONS, ablations: bool = False, ranker: bool = True,
             depth: int = 100, work_dir: Path | None = None,
             log: Callable[[str], None] = lambda m: None) -> list[EvalResult]:
    """Every system on every task; the first encoder is the main one, the others (and
    the tokenizer variants, with ``ablations``) are ablation rows."""
    import tempfile

    results: list[EvalResult] = []
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    names = list(encoders)
    main = encoders[names[0]] if names else None
    for task in tasks:
        log(f"{task.name}: {len(task.corpus)} documents, {len(task.queries)} queries")
        systems = baseline_systems(task, tokenizer, main, fusions=fusions, depth=depth)
        if ranker and main is not None:
            with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
                systems.update(ranker_systems(task, tokenizer, main, out_dir=Path(tmp) / "bundle",
                                              depth=depth))
                groups = (labeler_groups(task) or None) if task.group_kind != "chain" else None
                results.append(_named(evaluate(task, systems, groups=groups), task.name))
        else:
            groups = (labeler_groups(task) or None) if task.group_kind != "chain" else None
            results.append(_named(evaluate(task, systems, groups=groups), task.name))
        if ablations:
            log(f"{task.name}: tokenizer ablation")
            results.append(_named(tokenizer_ablation(task, depth=depth), f"{task.name} · tokenizer ablation"))
            if len(names) > 1:
                log(f"{task.name}: encoder ablation {names}")
                results.append(_named(encoder_ablation(task, encoders, depth=depth),
                                      f"{task.name} · encoder ablation"))
    return results


def _named(result: EvalResult, name: str) -> EvalResult:
    result.task = name
    return result
