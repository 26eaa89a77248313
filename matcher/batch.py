"""Batch matching for analysts: many queries against one side, files in, files out.

All-vs-all is matrix work, block by block of queries (never a Python loop per query):
- lexical: ``Q_block (B x V, term counts) @ D.T (V x N, BM25 weights)`` as one sparse
  product, the same numbers as the single-query scorer;
- dense: ``V_block (B x d) @ P.T`` as one GEMM;
- top-k0 per row (FAISS's C++ heaps, ties to the lowest row) under the filter mask, then
  ``fuse_arrays`` — the very function the interactive ranker uses.
The kernels live in ``matcher/kernels.py``, the query sources in ``matcher/queries.py``;
per-row explanation work is done only for the final top-k, memoised within a job.
Memory is bounded by the block: two ``B x N`` float32 score matrices, with B chosen so
each stays under ``max_block_mb``; never a full ``Q x N`` matrix.

Checkpoint/resume: each finished block is written as its own parquet part (atomically)
and recorded in ``state.json`` with a fingerprint of everything that decides the output
(bundle build, queries, direction, top-k, filters, fusion, block size). A resumed job
skips finished blocks and, blocks being deterministic, produces the same bytes as an
uninterrupted run. The final file is assembled from the parts and replaced atomically.

Output columns (stable, documented in docs/matching.md): ``OUTPUT_COLUMNS``; CSV/XLSX add
``demand_title`` and ``patent_title``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.index.filters import Filters
from matcher.config import FusionConfig
from matcher.explain import build_reason
from matcher.matched_terms import dedupe_terms, generic_df_limit, informative
from matcher.expansion import expander_for
from matcher.kernels import LexicalScorer, lexical_query_matrix, Scratch, rank_block
from matcher.queries import Queries, chains_column
from matcher.jobplan import JobPlan, plan_job
from patmatch.atomic_io import PRIVATE
from patmatch.table_io import write_table

OUTPUT_COLUMNS = ("demand_id", "rank", "patent_id", "score", "lexical_score", "semantic_score",
                  "lexical_rank", "semantic_rank", "chain", "matched_terms", "reason")
TITLE_COLUMNS = ("demand_title", "patent_title")


@dataclass
class BatchReport:
    out: Path
    queries: int
    rows: int
    blocks: int
    resumed_blocks: int
    seconds: float
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejects_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


# --- the job ------------------------------------------------------------------------------
def run_batch(bundle: Any, tokenizer: Any, encoder: Any, queries: Queries, *, out: Path,
              direction: str = "demand-to-patent", top_k: int = 20,
              filters: Filters | None = None, fusion: FusionConfig | None = None,
              resume: bool = False, block_size: int | None = None, progress: bool = True,
              pipeline: bool = False,
              on_block: Callable[[int, int], None] | None = None) -> BatchReport:
    """Match ``queries`` against the patents (or demands) of ``bundle``; write ``out``.

    ``on_block(queries_done, queries_total)`` is called before the first block and after
    each one (progress for a job; raising from it stops the run, e.g. a cancelled job,
    leaving the checkpoint for ``resume``; tests simulate a kill this way).

    ``pipeline`` ranks block b + 1 in a worker thread while block b is explained; the
    output is identical either way. Off by default: on the shared 2-core VM it was not a
    measurable win (6.7k x 20k: 7.0-14.4 s pipelined vs 8.4-13.6 s in line), it may pay
    on an idle machine with more cores. The Ray engine (matcher/batch_ray.py) runs the
    same plan's blocks on a cluster.
    """
    import time

    t0 = time.perf_counter()
    plan = plan_job(bundle, encoder, queries, out=out, direction=direction, top_k=top_k,
                    filters=filters, fusion=fusion, block_size=block_size)
    out = plan.out
    side = bundle.side(plan.target)
    done = plan.open_checkpoint(resume)
    nq, n_blocks = plan.queries, plan.n_blocks
    block_ranker = BlockRanker(side, tokenizer, encoder, queries, side.mask(plan.filters), plan.fusion,
                      plan.top_k, plan.direction)
    todo = [b for b in range(n_blocks) if b not in done]
    queries_done = nq - sum(plan.bounds(b)[1] - plan.bounds(b)[0] for b in todo)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=nq, initial=queries_done, unit="q", desc="matching",
                   dynamic_ncols=True, mininterval=0.5)
    # Optional two-stage pipeline: a worker thread ranks block b + 1 (BLAS, sparse products
    # and FAISS heaps release the GIL) while this thread explains and writes block b. Only
    # one block is ranked at a time, so memory stays at two B x N matrices.
    pool = (ThreadPoolExecutor(1, thread_name_prefix="patmatch-rank", initializer=_one_omp_thread)
            if pipeline else _Inline())
    pending = None
    try:
        if on_block is not None:
            on_block(queries_done, nq)
        pending = pool.submit(block_ranker.ranked_block, *plan.bounds(todo[0])) if todo else None
        for i, b in enumerate(todo):
            lo, hi = plan.bounds(b)
            ranked = pending.result()
            pending = pool.submit(block_ranker.ranked_block, *plan.bounds(todo[i + 1])) if i + 1 < len(todo) else None
            write_table(block_ranker.output_rows(ranked), plan.part_path(b), mode=PRIVATE)
            plan.record(done | set(todo[: i + 1]))
            queries_done += hi - lo
            if bar is not None:
                bar.update(hi - lo)
            if on_block is not None:
                on_block(queries_done, nq)
    finally:
        if pending is not None:
            pending.cancel()
        pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    t_write = time.perf_counter()
    rows = assemble_parts(plan, block_ranker.target_titles, patents=getattr(bundle, "patents", None),
                          empty=lambda: block_ranker.block_frame(0, 0))
    shutil.rmtree(plan.job_dir, ignore_errors=True)
    stages = {k: round(v, 2) for k, v in block_ranker.timings.items()}
    stages["assemble_write"] = round(time.perf_counter() - t_write, 2)
    return BatchReport(out, nq, rows, n_blocks, len(done), round(time.perf_counter() - t0, 3),
                       extra={"stage_seconds": stages, "block_size": plan.block_size})


class BlockRanker:
    def __init__(self, side: Any, tokenizer: Any, encoder: Any, queries: Queries,
                 mask: np.ndarray | None, fusion: FusionConfig, top_k: int, direction: str) -> None:
        self.side, self.tokenizer, self.encoder, self.q = side, tokenizer, encoder, queries
        self.mask, self.fusion, self.top_k, self.direction = mask, fusion, top_k, direction
        self.doc_matrix = side.lexical_matrix()
        self.scorer = LexicalScorer(side.sparse.matrix)
        self.vectors = np.asarray(side.vectors, dtype=np.float32)
        vocab = side.sparse.vocab
        df = np.diff(side.sparse.matrix.indptr)  # CSC: documents per term
        self.show_term = (np.fromiter((informative(t) for t in vocab), dtype=bool, count=len(vocab))
                          & (df <= generic_df_limit(len(side.ids))))
        self.vocab = vocab
        self.shown_cols = np.flatnonzero(self.show_term)
        self.doc_shown = self.doc_matrix[:, self.shown_cols].tocsr()
        self.timings: dict[str, float] = {}
        self.target_chains = chains_column(side)
        self.target_titles = (side.docs["title"].cast(str).fill_null("").to_list()
                              if "title" in side.docs.columns else [""] * len(side.ids))
        self.target_chain_keys = [tuple(c) for c in self.target_chains]
        self._terms_memo: dict[bytes, tuple[str, ...]] = {}
        self._row_memo: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self.scratch = Scratch()  # ranked_block() runs one block at a time (inline or one worker)
        self.expander = expander_for(side, tokenizer, fusion)  # abbreviations (钠电 -> 钠离子电池)

    def block_frame(self, lo: int, hi: int) -> Any:
        """Queries ``lo:hi`` end to end: a polars frame of their rows."""
        return self.output_rows(self.ranked_block(lo, hi))

    def ranked_block(self, lo: int, hi: int) -> _Ranked:
        """The matrix half of a block (tokenize, encode, both kernels, fusion). Free of
        Python per-row work and mostly outside the GIL, so ``run_batch`` runs it for the
        next block in a worker thread while this thread explains the current one."""
        import time

        clock = time.perf_counter
        q = self.q
        texts = q.texts[lo:hi]
        t0 = clock()
        qm = lexical_query_matrix(self.side, self.tokenizer, texts, self.expander)
        t1 = clock()
        if q.vectors is not None:
            qv = np.asarray(q.vectors[lo:hi], dtype=np.float32)
        elif texts:
            qv = np.asarray(self.encoder.encode_queries(texts), dtype=np.float32)
        else:
            qv = np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        t2 = clock()
        qm, fused = rank_block(self.side, None, qv, fusion=self.fusion, limit=self.top_k,
                               mask=self.mask, doc_matrix=self.scorer, vectors=self.vectors,
                               scratch=self.scratch, query_matrix=qm)
        self._time(tokenize=t1 - t0, encode=t2 - t1, retrieve_fuse=clock() - t2)
        return _Ranked(lo, hi, qm, fused)

    def output_rows(self, ranked: _Ranked) -> Any:
        """The explanation half: one output row per (query, hit), only for the final
        top-k. Terms, chains and reasons are memoised: pairs of one block repeat the same
        few term lists and chain sets, and building Chinese strings is the cost."""
        import time

        import polars as pl

        t0 = time.perf_counter()
        q, lo, fused = self.q, ranked.lo, ranked.fused
        rows = fused["rows"]
        qi, ri = np.nonzero(rows >= 0)
        trow = rows[qi, ri]
        terms = self._matched_terms(ranked.qm, qi, trow)
        qchain_key = self._query_chain_keys(lo, ranked.hi)
        chains, reasons, shown = [], [], []
        memo = self._row_memo
        for a, t, tl in zip(qi.tolist(), trow.tolist(), terms):
            key = (tl, qchain_key[a], self.target_chain_keys[t])
            hit = memo.get(key)
            if hit is None:
                tc = self.target_chains[t]
                shared = [c for c in q.chains[lo + a] if c in tc]
                hit = memo[key] = ("|".join(shared or tc), build_reason(tl[:5], None, shared),
                                   "、".join(tl[:8]))
            chains.append(hit[0])
            reasons.append(hit[1])
            shown.append(hit[2])
        if len(memo) > 500_000:  # bounded: a long job must not grow it forever
            memo.clear()
        qids = [q.ids[lo + a] for a in qi.tolist()]
        tids = [self.side.ids[t] for t in trow.tolist()]
        d2p = self.direction == "demand-to-patent"
        frame = pl.DataFrame({
            "demand_id": qids if d2p else tids,
            "rank": (ri + 1).astype(np.int64),
            "patent_id": tids if d2p else qids,
            "score": fused["score"][qi, ri],
            "lexical_score": fused["lexical_score"][qi, ri],
            "semantic_score": fused["semantic_score"][qi, ri],
            "lexical_rank": fused["lexical_rank"][qi, ri].astype(np.int64),
            "semantic_rank": fused["semantic_rank"][qi, ri].astype(np.int64),
            "chain": chains,
            "matched_terms": shown,
            "reason": reasons,
            "_query_title": [q.titles[lo + a] for a in qi.tolist()],
            "_target_row": trow.astype(np.int64),
        }, schema_overrides={"score": pl.Float64, "lexical_score": pl.Float64,
                             "semantic_score": pl.Float64}).with_columns(
            pl.col("lexical_score").fill_nan(None), pl.col("semantic_score").fill_nan(None))
        self._time(explain=time.perf_counter() - t0)
        return frame

    def _time(self, **stages: float) -> None:
        with self._lock:  # ranked_block() and output_rows() run in different threads
            for name, dt in stages.items():
                self.timings[name] = self.timings.get(name, 0.0) + dt

    def _query_chain_keys(self, lo: int, hi: int) -> list[tuple[str, ...]]:
        return [tuple(c) for c in self.q.chains[lo:hi]]

    def _matched_terms(self, qm: Any, qi: np.ndarray, trow: np.ndarray) -> list[tuple[str, ...]]:
        """Shared terms per (query, target) pair, by BM25 weight: one sparse elementwise
        product over all pairs of the block, then a slice per pair (memoised by the
        slice's term ids: the same few lists recur across a block)."""
        if len(qi) == 0:
            return []
        # only the showable terms' columns (words: character n-grams never explain), so
        # the n-gram postings do not multiply the work of this product
        cols = self.shown_cols
        prod = qm[qi][:, cols].multiply(self.doc_shown[trow]).tocoo()
        pair, col, w = prod.row, cols[prod.col], prod.data
        order = np.lexsort((col, -w, pair))  # per pair: heaviest first, ties by term id
        pair, col = pair[order], col[order].astype(np.int64)
        bounds = np.searchsorted(pair, np.arange(len(qi) + 1)).tolist()
        vocab, memo = self.vocab, self._terms_memo
        out = []
        for i in range(len(qi)):
            a, b = bounds[i], min(bounds[i + 1], bounds[i] + 16)  # 16 heaviest suffice for 8
            key = col[a:b].tobytes()
            got = memo.get(key)
            if got is None:
                got = memo[key] = tuple(dedupe_terms([vocab[j] for j in col[a:b].tolist()], limit=8))
            out.append(got)
        if len(memo) > 500_000:
            memo.clear()
        return out


def _one_omp_thread() -> None:
    """The rank worker's FAISS heaps run on one OpenMP thread (a per-thread setting): the
    explaining thread already keeps the other core busy, and an OpenMP team spin-waiting
    next to it made pipelined runs bimodal (7 s or 14 s for the same 6.7k x 20k job)."""
    import faiss

    faiss.omp_set_num_threads(1)


class _Inline:
    """``ThreadPoolExecutor`` stand-in that runs the task at submit (``pipeline=False``)."""

    def submit(self, fn: Any, *args: Any) -> Any:
        from concurrent.futures import Future

        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised by result(), like a pool
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True) -> None:
        pass


@dataclass
class _Ranked:
    lo: int
    hi: int
    qm: Any
    fused: dict[str, np.ndarray]


def _with_facts(df: Any, patents: Any) -> tuple[Any, tuple[str, ...]]:
    """The patent's grade, TRL, licence terms, applicant, type and region on every row
    (see matcher/record_facts.py); bundles without them give empty columns."""
    from matcher.record_facts import FACT_COLUMNS, side_facts

    if patents is None or not df.height:
        return df, ()
    facts = side_facts(patents).rename({"id": "patent_id"})
    return df.join(facts, on="patent_id", how="left", maintain_order="left"), FACT_COLUMNS


def _for_readers(df: Any, cols: tuple[str, ...], facts: tuple[str, ...]) -> Any:
    """CSV/XLSX for people: the chain's Chinese name and Chinese headers for the facts."""
    import polars as pl

    from matcher.record_facts import FACT_HEADERS_ZH

    names = _chain_names_zh()
    out = df.select(cols + facts)
    if "chain" in out.columns:
        out = out.with_columns(pl.col("chain").cast(pl.String).str.split("|").list.eval(
            pl.element().replace(names)).list.join("、").alias("chain_name"))
    return out.drop([c for c in facts if c == "applicant_type"]).rename(
        {c: FACT_HEADERS_ZH[c] for c in facts if c != "applicant_type"} | (
            {"chain_name": "产业链"} if "chain" in out.columns else {}))


def _chain_names_zh() -> dict[str, str]:
    try:
        from labeling_spec import load_taxonomy

        return {c.id: c.name_zh for c in load_taxonomy().chains}
    except Exception:  # noqa: BLE001 - display names never fail an export
        return {}


def target_titles(side: Any) -> list[str]:
    """The ranked side's titles, row-aligned (the output's demand/patent title column)."""
    if "title" not in side.docs.columns:
        return [""] * len(side.ids)
    return side.docs["title"].cast(str).fill_null("").to_list()


def assemble_parts(plan: JobPlan, titles: list[str], *, patents: Any = None,
                   empty: Callable[[], Any]) -> int:
    """The output file from the plan's finished parts (any engine's), in block order;
    ``empty()`` gives the zero-row frame when there were no queries. Returns the rows."""
    import polars as pl

    out, n_blocks = plan.out, plan.n_blocks
    parts = [pl.read_parquet(plan.part_path(b)) for b in range(n_blocks)]
    df = pl.concat(parts) if parts else empty()
    titles_s = pl.Series(titles, dtype=pl.Utf8)
    target_title = titles_s.gather(df["_target_row"]) if df.height else pl.Series([], dtype=pl.Utf8)
    d2p = plan.direction == "demand-to-patent"
    df = df.with_columns(
        demand_title=df["_query_title"] if d2p else target_title,
        patent_title=target_title if d2p else df["_query_title"],
    ).drop("_query_title", "_target_row")
    df, facts = _with_facts(df, patents)
    # Parquet keeps the machine columns; CSV/XLSX, read by people, carry the titles too
    if out.suffix.lower() == ".parquet":
        table = df.select(OUTPUT_COLUMNS + facts)
    else:
        table = _for_readers(df, OUTPUT_COLUMNS[:3] + TITLE_COLUMNS + OUTPUT_COLUMNS[3:], facts)
    write_table(table, out, sheet="matches", mode=PRIVATE)
    return df.height
