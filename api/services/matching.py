"""Matching on behalf of a caller: scope the filters, run the ranker, hide what it may not see.

Centres (and chain-scoped brokers) only ever query inside their assigned chains; demand
results (patent -> demands, chain pairs) drop demands the caller may not see *before*
paging, so pages stay full and a hidden demand is never counted or shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from patmatch.errors import BusyError, NotFoundError, PageDepthError

from indexing.privacy import mask_pii

from api.schemas import MatchFilters, MatchListOut, PairListOut
from api.security import Principal, scope_chains
from api.services.chains import known_chain
from api.services.contracts import MatchList, Ranker, ServingEngine
from api.views import MAX_VISIBLE_DEPTH, demand_visible, match_out, pair_out, visible_page


def build_filters(engine: ServingEngine, p: Principal, f: MatchFilters | None,
                  chains: tuple[str, ...] = ()) -> Any:
    f = f or MatchFilters()
    requested = tuple(dict.fromkeys([*f.chains, *chains]))
    requested = tuple(known_chain(engine, p, c) for c in requested)
    return engine.make_filters(
        chains=scope_chains(p, requested), ipc_prefix=tuple(f.ipc_prefix),
        applicant_types=tuple(f.applicant_types), regions=tuple(f.regions),
        valid_only=f.valid_only, date_from=f.date_from, date_to=f.date_to,
        open_license_only=f.open_license_only,
        **{k: getattr(f, k) for k in ("min_grade", "min_trl", "max_required_trl", "max_fee_wan")
           if getattr(f, k) is not None})


# The server-side time budget of a request: ranking itself is bounded (tokenization is
# linear, texts are capped at 20,000 characters, lists at the ranked depth), so what can
# grow without bound is the wait for one of the engine's ranking slots under overload.
# A request that cannot start ranking within the budget answers 503 + Retry-After
# instead of holding its connection (and the client) indefinitely.
REQUEST_BUDGET_SECONDS = 15.0


@contextmanager
def ranking_slot(engine: ServingEngine, budget: float | None = None) -> Iterator[None]:
    wait = REQUEST_BUDGET_SECONDS if budget is None else budget
    if not engine.ranking.acquire(timeout=wait):
        raise BusyError(f"服务繁忙：{wait:.0f} 秒内没有空闲的排序槽位，请稍后重试",
                        details={"retry_after": 5, "budget_seconds": wait})
    try:
        yield
    finally:
        engine.ranking.release()


def check_page_depth(offset: int, limit: int, depth: int) -> None:
    """Refuse a page that reaches past the ranked depth (400 ``input.page_depth``).

    A ranked list is computed to a fixed depth for stable pagination, so a page with
    ``offset + limit > depth`` could only be answered cut short, which a client cannot tell
    from the end of the list. Refused whatever the list's length, like Elasticsearch's
    ``max_result_window``: whether a page is valid never depends on the data."""
    if offset + limit > depth:
        raise PageDepthError(
            f"offset + limit = {offset + limit} reaches past the ranked depth {depth}: lists "
            f"are ranked {depth} deep for stable pagination; ask for offset + limit <= {depth} "
            "or narrow the query with filters",
            details={"offset": offset, "limit": limit, "depth": depth,
                     "max_offset_plus_limit": depth})


def _fused_depth(ranker: Ranker, fusion: Any) -> int:
    """The depth this request's fused list is computed to (its fusion override, else the
    served ranker's configuration)."""
    for cfg in (fusion, getattr(ranker, "config", None)):
        depth = getattr(cfg, "depth", None)
        if isinstance(depth, int) and depth > 0:
            return depth
    return MAX_VISIBLE_DEPTH


def _match_list_out(build_id: str, query: dict, total: int, items: list, limit: int,
                    offset: int, matching: int | None = None) -> MatchListOut:
    return MatchListOut(build_id=build_id, query=query, total=int(total), limit=limit,
                        offset=offset, matching=matching,
                        items=[match_out(m, rank=offset + i + 1) for i, m in enumerate(items)])


def run_text_match(engine: ServingEngine, p: Principal, text: str, *, filters: MatchFilters | None,
                   limit: int, offset: int, fusion: dict | None = None) -> MatchListOut:
    snap = engine.snapshot()
    flt, fz = build_filters(engine, p, filters), engine.make_fusion(fusion)
    check_page_depth(offset, limit, _fused_depth(snap.ranker, fz))
    # masked before ranking, like every stored demand text: the echoed query, the semantic
    # pair and the reason quote the query, and none may carry a phone, e-mail, ID or name
    text = mask_pii(text) or text
    with ranking_slot(engine):
        res = snap.ranker.match_text(text, filters=flt, limit=limit, offset=offset, fusion=fz)
    return _match_list_out(snap.build_id, {"kind": "text", "text": text[:200]}, res.total,
                           list(res.items), limit, offset, getattr(res, "matching", None))


def run_demand_match(engine: ServingEngine, p: Principal, rec: Any, *,
                     chains: tuple[str, ...] = (),
                     filters: MatchFilters | None = None, limit: int, offset: int,
                     fusion: dict | None = None,
                     sink: frozenset[str] = frozenset()) -> MatchListOut:
    """Demand -> patents. A demand posted after the last build is matched by its text.

    ``sink``: patents rejected as 不相关 for this demand (outcome feedback): they move to
    the end of the list, in their own order, so pages before the tail never show them."""
    snap = engine.snapshot()
    flt = build_filters(engine, p, filters, chains)
    fz = engine.make_fusion(fusion)
    check_page_depth(offset, limit, _fused_depth(snap.ranker, fz))

    def fetch(lim: int, off: int) -> MatchList:
        with ranking_slot(engine):
            try:
                return snap.ranker.match_demand(rec.id, filters=flt, limit=lim, offset=off,
                                                fusion=fz)
            except NotFoundError:
                return snap.ranker.match_text(rec.query_text, filters=flt, limit=lim,
                                              offset=off, fusion=fz)

    if not sink:
        res = fetch(limit, offset)
        return _match_list_out(snap.build_id, {"kind": "demand", "demand_id": rec.id},
                               res.total, list(res.items), limit, offset,
                               getattr(res, "matching", None))
    # enough of the head that the page holds offset+limit kept items, or the whole list
    res = fetch(offset + limit + len(sink), 0)
    items = list(res.items)
    kept = [m for m in items if str(m.record_id) not in sink]
    if len(items) >= res.total:
        kept += [m for m in items if str(m.record_id) in sink]
    return _match_list_out(snap.build_id, {"kind": "demand", "demand_id": rec.id},
                           res.total, kept[offset:offset + limit], limit, offset,
                           getattr(res, "matching", None))


def run_patent_match(engine: ServingEngine, p: Principal, patent_id: str, *, limit: int,
                     offset: int, chains: tuple[str, ...] = ()) -> MatchListOut:
    """Patent -> demands, restricted to demands this caller may see."""
    snap = engine.snapshot()
    flt = build_filters(engine, p, None, chains)
    visible = demand_visible(engine, p)
    check_page_depth(offset, limit, _visible_depth(snap.ranker))

    def fetch(depth: int) -> MatchList:
        with ranking_slot(engine):
            return snap.ranker.match_patent(patent_id, filters=flt, limit=depth, offset=0)

    total, items = visible_page(
        fetch,
        lambda m: visible(str(m.record_id)), offset=offset, limit=limit,
        max_depth=_visible_depth(snap.ranker))
    return _match_list_out(snap.build_id, {"kind": "patent", "patent_id": patent_id}, total,
                           items, limit, offset)


def _visible_depth(ranker: Ranker) -> int:
    """How deep a visibility-filtered page may look: the ranker's fused depth if it has one."""
    return int(getattr(getattr(ranker, "config", None), "depth", 0) or MAX_VISIBLE_DEPTH)


def run_chain_pairs(engine: ServingEngine, p: Principal, chain: str, *, limit: int,
                    offset: int) -> PairListOut:
    cid = known_chain(engine, p, chain)
    snap = engine.snapshot()
    visible = demand_visible(engine, p)
    check_page_depth(offset, limit, MAX_VISIBLE_DEPTH)

    def fetch(depth: int) -> MatchList:
        with ranking_slot(engine):
            return snap.ranker.chain_pairs(cid, limit=depth, offset=0)

    total, items = visible_page(
        fetch,
        lambda pr: visible(str(pr.demand_id)), offset=offset, limit=limit)
    return PairListOut(build_id=snap.build_id, chain=cid, total=total, limit=limit,
                       offset=offset,
                       items=[pair_out(pr, offset + i + 1) for i, pr in enumerate(items)])
