"""Per-chain supply-demand list (供需目录): the best (demand, patent) pairs of one chain.

Every demand of the chain is matched against the chain's patents with the batch kernels
(one block of matrix work, the same fusion as everywhere), keeping ``per_demand`` patents
each. Pairs are then deduplicated (one row per (demand, patent); a patent appears for at
most ``per_patent`` demands, so one generic patent cannot fill the page) and ranked by
fused score, then cosine, then BM25, then ids (fused RRF scores tie often across queries;
cosine is comparable across queries, BM25 less so). The full list is computed once per
(chain, fusion, build) and cached, so pages are stable slices of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexing.index.filters import Filters
from matcher.results import Pair, PairList
from patmatch.errors import InputError


def _pairs_frame(ranker: Any, chain: str, per_demand: int, per_patent: int) -> Any:
    import polars as pl

    from matcher.batch import BlockRanker
    from matcher.queries import queries_from_side

    bundle = ranker.bundle
    queries = queries_from_side(bundle.demands, "demands", Filters(chains=(chain,), valid_only=False))
    if not queries.ids:
        return None
    side = bundle.patents
    block_ranker = BlockRanker(side, ranker.tokenizer, ranker.encoder, queries, side.mask(Filters(chains=(chain,))),
                   ranker.config, per_demand, "demand-to-patent")
    frames = [block_ranker.block_frame(lo, min(lo + 1024, len(queries.ids)))
              for lo in range(0, len(queries.ids), 1024)]
    df = pl.concat(frames)
    titles = pl.Series(block_ranker.target_titles, dtype=pl.Utf8)
    df = df.with_columns(patent_title=titles.gather(df["_target_row"]),
                         demand_title=df["_query_title"]).drop("_query_title", "_target_row")
    df = (df.unique(["demand_id", "patent_id"], keep="first", maintain_order=True)
          .sort(["score", "semantic_score", "lexical_score", "demand_id", "patent_id"],
                descending=[True, True, True, False, False], nulls_last=True)
          .with_columns(_n=pl.int_range(pl.len()).over("patent_id"))
          .filter(pl.col("_n") < per_patent).drop("_n", "rank")
          .with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64)))
    return df


def chain_pairs(ranker: Any, chain: str, *, limit: int = 50, offset: int = 0,
                per_demand: int = 5, per_patent: int = 3) -> PairList:
    if limit < 1 or offset < 0:
        raise InputError(f"expected limit >= 1 and offset >= 0, got limit={limit}, offset={offset}")
    cache = ranker.__dict__.setdefault("_chain_cache", {})
    key = (chain, ranker.config, per_demand, per_patent, getattr(ranker.bundle, "build_id", None))
    if key not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[key] = _pairs_frame(ranker, chain, per_demand, per_patent)
    df = cache[key]
    if df is None:
        return PairList(chain, 0, offset, limit, (), getattr(ranker.bundle, "build_id", None))
    page = df.slice(offset, limit)
    facts = _facts_by_id(ranker, page["patent_id"].to_list())
    items = tuple(
        Pair(rank=r["rank"], demand_id=r["demand_id"], patent_id=r["patent_id"], score=r["score"],
             lexical_score=r["lexical_score"], semantic_score=r["semantic_score"],
             lexical_rank=r["lexical_rank"], semantic_rank=r["semantic_rank"],
             demand_title=r["demand_title"] or "", patent_title=r["patent_title"] or "",
             matched_terms=tuple(t for t in (r["matched_terms"] or "").split("、") if t),
             reason=r["reason"], facts=facts.get(r["patent_id"], {}))
        for r in page.iter_rows(named=True))
    return PairList(chain, df.height, offset, limit, items, getattr(ranker.bundle, "build_id", None))


def _facts_by_id(ranker: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The page's patents' grade, TRL, licence terms, applicant ... (record_facts.py)."""
    import polars as pl

    from matcher.record_facts import side_facts

    side = getattr(ranker.bundle, "patents", None)
    if side is None or not ids:
        return {}
    df = side_facts(side).filter(pl.col("id").is_in(ids))
    return {r.pop("id"): r for r in df.iter_rows(named=True)}


def export_pairs(ranker: Any, chain: str, out: Path, **kwargs: Any) -> int:
    """Write the whole chain list to ``.parquet``/``.csv``/``.xlsx`` (atomic); rows written."""
    from patmatch.atomic_io import PRIVATE
    from patmatch.table_io import check_table_suffix, write_table

    out = Path(out)
    suffix = check_table_suffix(out)  # refuse a bad name before ranking the whole chain
    df = chain_pairs(ranker, chain, limit=10**9, **kwargs).to_polars()
    if suffix in (".csv", ".xlsx"):  # for people: Chinese headers for the patent's facts
        from matcher.record_facts import FACT_HEADERS_ZH

        df = df.drop("applicant_type").rename(
            {k: v for k, v in FACT_HEADERS_ZH.items() if k != "applicant_type"})
    write_table(df, out, sheet=chain, mode=PRIVATE)
    return df.height
