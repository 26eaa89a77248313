"""Records and ranker results -> response models, with masking and visibility applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from api.schemas import DemandOut, MatchOut, PairOut, PatentOut
from api.security import Principal, can_see_demand, sees_contacts
from api.services.contracts import ServingEngine

MAX_VISIBLE_DEPTH = 2000  # how deep a post-visibility page may look into a fused list


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def demand_out(engine: ServingEngine, p: Principal, rec: Any) -> DemandOut:
    unmasked = sees_contacts(p, rec)
    shown = rec if unmasked else engine.mask_demand(rec)
    data = {f.name: getattr(shown, f.name) for f in dataclasses.fields(shown)}
    return DemandOut(**{k: v for k, v in data.items() if k in DemandOut.model_fields},
                     contacts_masked=not unmasked)


def patent_out(rec: Any) -> PatentOut:
    from indexing.records import APPLICANT_TYPE_ZH

    data = {f.name: _plain(getattr(rec, f.name)) for f in dataclasses.fields(rec)}
    data["applicant_type_zh"] = APPLICANT_TYPE_ZH.get(data.get("applicant_type") or "")
    return PatentOut(**{k: v for k, v in data.items() if k in PatentOut.model_fields})


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _highlights_out(hls: Any) -> list[Any]:
    """Highlights as plain dicts; the generic ``_plain`` walk cost ~0.1 ms per match."""
    out = []
    for h in hls or ():
        if type(h).__name__ == "Highlight" and dataclasses.is_dataclass(h):
            out.append({"field": h.field, "start": int(h.start), "end": int(h.end),
                        "term": h.term})
        else:
            out.append(_plain(h))
    return out


_SIMPLE = (str, int, float, bool, type(None))


def _labels_out(labels: Any) -> Any:
    """shared_labels (a dict of strings and lists of strings) without the generic walk."""
    if not isinstance(labels, dict):
        return _plain(labels)
    out: dict[str, Any] = {}
    for k, v in labels.items():
        if isinstance(v, _SIMPLE):
            out[str(k)] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, _SIMPLE) for x in v):
            out[str(k)] = list(v)
        else:
            out[str(k)] = _plain(v)
    return out


def match_out(m: Any, rank: int | None = None) -> MatchOut:
    g = lambda name, default=None: getattr(m, name, default)  # noqa: E731
    return MatchOut(
        record_id=str(g("record_id")), rank=int(rank if rank is not None else g("rank", 0)),
        score=float(g("score", 0.0)), lexical_score=_opt_float(g("lexical_score")),
        semantic_score=_opt_float(g("semantic_score")), lexical_rank=_opt_int(g("lexical_rank")),
        semantic_rank=_opt_int(g("semantic_rank")), title=g("title") or None,
        semantic_pair=list(g("semantic_pair")) if g("semantic_pair") else None,
        chains=[str(c) for c in (g("chains") or ())],
        matched_terms=[str(t) for t in (g("matched_terms") or ())],
        highlights=_highlights_out(g("highlights")), shared_labels=_labels_out(g("shared_labels")),
        reason=str(g("reason") or ""), chain_names=chain_names_zh(g("chains") or ()),
        **{k: v for k, v in (g("facts") or {}).items() if k in _FACT_FIELDS})


_FACT_FIELDS = ("grade", "trl", "license_mode", "license_fee_wan", "license_fee_period",
                "license_payment", "yearly_fee_wan", "applicant", "applicant_type",
                "applicant_type_zh", "region")


def chain_names_zh(chains: Any) -> list[str]:
    """Chinese display names of chain ids (an unknown id is shown as it is)."""
    from labeling_spec import load_taxonomy

    try:
        tax = load_taxonomy()
    except Exception:  # noqa: BLE001 - display names never fail a response
        return [str(c) for c in chains]
    return [tax.name_of(str(c)) for c in chains]


def pair_out(pr: Any, rank: int) -> PairOut:
    g = lambda name, default=None: getattr(pr, name, default)  # noqa: E731
    return PairOut(rank=rank, demand_id=str(g("demand_id")), patent_id=str(g("patent_id")),
                   score=float(g("score", 0.0)), demand_title=g("demand_title") or None,
                   patent_title=g("patent_title") or None,
                   lexical_score=_opt_float(g("lexical_score")),
                   semantic_score=_opt_float(g("semantic_score")),
                   matched_terms=[str(t) for t in (g("matched_terms") or ())],
                   reason=str(g("reason") or ""),
                   **{k: v for k, v in (g("facts") or {}).items() if k in _FACT_FIELDS})


def demand_visible(engine: ServingEngine, p: Principal) -> Callable[[str], bool]:
    """A per-request, memoised visibility test for demand ids found in ranked lists."""
    cache: dict[str, bool] = {}
    aliases = chain_aliases(engine)

    def visible(demand_id: str) -> bool:
        if demand_id not in cache:
            rec = engine.store.get_demand(demand_id)
            cache[demand_id] = rec is not None and can_see_demand(p, rec, aliases)
        return cache[demand_id]

    return visible


def chain_aliases(engine: ServingEngine) -> dict[str, str]:
    """name_zh -> id, so demands that carry a Chinese chain name are scoped correctly."""
    return {c.name_zh: c.id for c in engine.chains()}


def visible_page(fetch: Callable[[int], Any], keep: Callable[[Any], bool], *, offset: int,
                 limit: int, max_depth: int = MAX_VISIBLE_DEPTH) -> tuple[int, list[Any]]:
    """Page over a ranked list after dropping items the caller may not see.

    Fetches deeper (doubling) until the page is full or the list ends, so hidden items
    never shorten a page. ``total`` counts the visible items of the fused list when it
    was exhausted, otherwise the list's total minus the hidden ones seen so far.
    """
    max_depth = max(1, max_depth)
    depth = min(max(offset + limit, 10), max_depth)
    while True:
        res = fetch(depth)
        items = list(getattr(res, "items", res))
        kept = [it for it in items if keep(it)]
        exhausted = len(items) < depth
        if len(kept) >= offset + limit or exhausted or depth >= max_depth:
            break
        depth = min(depth * 2, max_depth)
    hidden = len(items) - len(kept)
    total = len(kept) if exhausted else max(int(getattr(res, "total", len(items))) - hidden,
                                            len(kept))
    return total, kept[offset:offset + limit]
