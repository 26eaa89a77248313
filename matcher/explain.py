"""Explanations in Chinese: why this record is on the list, in words a broker can repeat.

For one (query, record) pair:
- matched terms: query terms found in the record, with character offsets into the
  record's title and abstract (``text[start:end]`` is the surface form, so a UI can
  highlight without re-tokenising);
- the lexical and semantic contributions are carried by ``Match`` itself (scores, ranks);
- shared labels: industry chains in common, the record's IPC classes, problem/effect
  phrases from ``labeling_spec`` when the bundle carries them;
- a one-line reason, e.g.
  ``命中：锂电池、低温；语义相近：冬季续航衰减 ↔ 低温放电性能；同属产业链：动力电池与新型储能``.

The semantic pair is the (query clause, record clause) with the highest cosine under the
running encoder, preferring pairs that do not already share a matched term: that is the
paraphrase BM25 cannot see. It costs one small encode per page, so batch jobs skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from matcher.clauses import LABELLED_PREFERENCE, Boilerplate, clauses, labelled_clauses, record_clauses
from matcher.matched_terms import dedupe_terms, informative
from matcher.results import Highlight

MAX_PAIR_CHARS = 18
# a semantic pair is shown only when it can be a reason (``Explainer._semantic_pairs``):
# the semantic side carried more than a sliver of the score, and the clauses are close
PAIR_MAX_LEXICAL_SHARE = 0.8  # "得分几乎全部来自关键词": no semantic reason to give
PAIR_MIN_COSINE = 0.37  # calibrated on demands_dev: benchmarks/results/pair_study.md
PAIR_NEEDS_SPECIFIC = True  # both clauses must name something (``Explainer.specific``)


@lru_cache(maxsize=1)
def chain_names() -> dict[str, str]:
    """Chain id -> Chinese display name from the taxonomy file (ids when unavailable)."""
    try:
        from labeling_spec.chains import load_taxonomy

        tax = load_taxonomy()
        return {c.id: c.name_zh for c in tax.chains}
    except Exception:  # noqa: BLE001 - a broken taxonomy must not break matching
        return {}


def chain_label(chain_id: str) -> str:
    return chain_names().get(chain_id, chain_id)


def _norm(text: str) -> str:
    from indexing.text.normalization import normalize_text

    return normalize_text(text)


@lru_cache(maxsize=1 << 16)
def _norm_term(term: str) -> str:
    """``_norm`` for short strings (terms, surface forms), cached: a page asks for the
    same few dozen terms once per document and field."""
    return _norm(term)


def _ordered_terms(terms: Iterable[str]) -> list[tuple[str, str]]:
    """(term, normalised term) longest first, the order highlights are claimed in."""
    return [(t, _norm_term(t)) for t in sorted(set(terms), key=lambda t: (-len(t), t))]


@lru_cache(maxsize=1 << 15)
def _norm_field(text: str) -> str:
    """``_norm`` of a record field, memoised: records recur across queries, and the
    strings come from the ranker's per-bundle column lists, so their hash is cached."""
    return _norm(text)


def _highlights(text: str, ordered: Sequence[tuple[str, str]], field_name: str,
                norm: str | None = None) -> list[Highlight]:
    if not text:
        return []
    if norm is None:
        norm = _norm(text)
    taken = bytearray(len(norm) + 1)  # 1 = character already inside a highlight
    out: list[Highlight] = []
    for _, t in ordered:
        if not t:
            continue
        n = len(t)
        start = norm.find(t)
        while start >= 0:
            end = start + n
            if 1 not in taken[start:end]:
                taken[start:end] = b"\x01" * n
                out.append(Highlight(field_name, start, end, text[start:end]))
            start = norm.find(t, start + 1)
    out.sort(key=lambda h: (h.start, h.end))
    return out


def find_highlights(text: str, terms: Iterable[str], field_name: str) -> list[Highlight]:
    """Every occurrence of each term in ``text`` (case/width-insensitive), longest term
    first, overlaps dropped; sorted by position. Offsets index the ORIGINAL text."""
    if not text:
        return []
    return _highlights(text, _ordered_terms(terms), field_name)


def _short(text: str) -> str:
    return text if len(text) <= MAX_PAIR_CHARS else text[: MAX_PAIR_CHARS - 1] + "…"


def share_words(lexical_share: float | None) -> str:
    """The lexical / semantic split of a fused score in words a broker can repeat (no
    percentages: a share is not a probability of a good match)."""
    if lexical_share is None or not np.isfinite(lexical_share):
        return ""
    x = min(max(float(lexical_share), 0.0), 1.0)
    if x >= 0.8:
        return "得分几乎全部来自关键词"
    if x >= 0.6:
        return "得分大半来自关键词，小半来自语义相近"
    if x > 0.4:
        return "得分关键词与语义相近约各占一半"
    if x > 0.2:
        return "得分大半来自语义相近，小半来自关键词"
    return "得分几乎全部来自语义相近"


def lexical_share(score: float, lexical_part: float) -> float | None:
    """The lexical side's share of a fused score (None when it is not a positive sum)."""
    if not (np.isfinite(score) and np.isfinite(lexical_part)) or score <= 0:
        return None
    return min(max(lexical_part / score, 0.0), 1.0)


def build_reason(matched_terms: Sequence[str], semantic_pair: tuple[str, str] | None,
                 shared_chains: Sequence[str], *, max_terms: int = 5,
                 lexical_share: float | None = None) -> str:
    parts = []
    if matched_terms:
        parts.append("命中：" + "、".join(matched_terms[:max_terms]))
    if semantic_pair:
        parts.append(f"语义相近：{_short(semantic_pair[0])} ↔ {_short(semantic_pair[1])}")
    if shared_chains:
        parts.append("同属产业链：" + "、".join(chain_label(c) for c in shared_chains))
    if not parts:
        parts.append("语义检索召回（无共同关键词）")
    share = share_words(lexical_share)
    if share:
        parts.append(share)
    return "；".join(parts)


@dataclass(frozen=True)
class Explanation:
    matched_terms: tuple[str, ...]
    highlights: tuple[Highlight, ...]
    shared_labels: dict[str, Any] = field(default_factory=dict)
    semantic_pair: tuple[str, str] | None = None
    reason: str = ""


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v] if v else []
    return [str(x) for x in v if x]


class Explainer:
    """Explains a page of matches for one query (tokenizer + optional encoder)."""

    def __init__(self, tokenize: Callable[[str], list[str]],
                 encode: Callable[[list[str]], np.ndarray] | None = None, *,
                 term_weight: Callable[[str], float] | None = None, max_terms: int = 6,
                 generic: Callable[[str], bool] | None = None,
                 encode_records: Callable[[list[str]], np.ndarray] | None = None,
                 boilerplate: Boilerplate | None = None,
                 clause_memo: dict[str, bool] | None = None) -> None:
        self.boilerplate = boilerplate or Boilerplate()
        self.tokenize = tokenize
        self.encode = encode
        # record clauses may go through a memo (matcher.semantic.MemoEncode): same vectors
        self.encode_records = encode_records or encode
        self.term_weight = term_weight
        self.max_terms = max_terms
        self.generic = generic  # True for words too common to explain anything (技术, 提高)
        # clause -> names something (``specific``); the owner may share one across pages
        self.clause_memo: dict[str, bool] = clause_memo if clause_memo is not None else {}

    def query_terms(self, text: str, tokens: Sequence[str] | None = None) -> list[str]:
        """Distinct informative query terms, most discriminative first (BM25 weight when
        known, else length), ties by first occurrence. ``tokens``: ``tokenize(text)``
        when the caller already has it (the ranker tokenized the query for BM25)."""
        toks = self.tokenize(text) if tokens is None else tokens
        words = list(dict.fromkeys(t for t in toks if informative(t)))
        if self.generic:
            keep = [t for t in words if not self.generic(t)]
            # a common word that contains a shown fragment is the word a person would name
            # (锂电池 in a battery corpus, not just 锂电): it stays, and replaces the fragment
            whole = {t for t in words if t not in keep and any(k in t for k in keep)}
            words = [t for t in words if t in whole or t in keep]
        terms = words
        if self.term_weight is not None:
            w = {t: self.term_weight(t) for t in terms}
            return sorted(terms, key=lambda t: -w[t])  # stable: ties keep first occurrence
        return sorted(terms, key=lambda t: -len(t))

    def explain_page(self, query_text: str, docs: Sequence[Mapping[str, Any]], *,
                     query_chains: Sequence[str] = (), query_terms: Sequence[str] | None = None,
                     semantic: bool = True, text_fields: Sequence[str] = ("title", "abstract"),
                     lexical_shares: Sequence[float | None] | None = None,
                     query_labelled: Sequence[str] = ()) -> list[Explanation]:
        """``query_labelled``: the query's own labelled problem/effect (a stored demand's),
        preferred as the query side of a semantic pair."""
        terms = list(query_terms) if query_terms is not None else self.query_terms(query_text)
        pairs: list[tuple[str, str] | None] = [None] * len(docs)
        per_doc: list[tuple[list[str], list[Highlight]]] = []
        ordered = _ordered_terms(terms)  # once per page, not per document and field
        normed = [(t, _norm_term(t)) for t in terms]
        for doc in docs:
            hl: list[Highlight] = []
            texts = [str(doc.get(f) or "") for f in text_fields]
            norms = [_norm_field(t) if t else "" for t in texts]
            # only terms present somewhere in the record go through the per-field search
            joined = "\x00".join(norms)
            present = [(t, n) for t, n in ordered if n and n in joined]
            if present:
                for f, text, norm in zip(text_fields, texts, norms):
                    hl += _highlights(text, present, f, norm)
            found = {_norm_term(h.term) for h in hl}
            matched = dedupe_terms([t for t, n in normed if n in found][:16])
            per_doc.append((matched, hl))
        shares = list(lexical_shares) if lexical_shares is not None else [None] * len(docs)
        if semantic and self.encode is not None and docs:
            pairs = self._semantic_pairs(query_text, docs, [m for m, _ in per_doc], text_fields,
                                         shares, query_labelled)
        out = []
        qchains = list(dict.fromkeys(query_chains))
        for doc, (matched, hl), pair, share in zip(docs, per_doc, pairs, shares):
            dchains = _as_list(doc.get("chains"))
            shared = [c for c in qchains if c in dchains]
            labels: dict[str, Any] = {"chains": shared, "chain_names": [chain_label(c) for c in shared]}
            ipc = _as_list(doc.get("ipc"))
            if ipc:
                labels["ipc_classes"] = list(dict.fromkeys(c.replace(" ", "")[:4] for c in ipc))
            for key in ("problem", "effect"):
                if doc.get(key):
                    labels[key] = str(doc[key])
            shown = matched[: self.max_terms]
            out.append(Explanation(tuple(shown), tuple(hl), labels, pair,
                                   build_reason(shown, pair, shared, lexical_share=share)))
        return out

    def specific(self, clause: str) -> bool:
        """A clause names something: one of its words is informative and not generic
        (制备方法简单 / 使用方便 name nothing in a patent corpus). Memoised per explainer
        owner through ``self.clause_memo``."""
        got = self.clause_memo.get(clause)
        if got is None:
            got = self.generic is None or any(
                informative(t) and not self.generic(t) for t in self.tokenize(clause))
            if len(self.clause_memo) > 200_000:
                self.clause_memo.clear()
            self.clause_memo[clause] = got
        return got

    def _semantic_pairs(self, query_text: str, docs: Sequence[Mapping[str, Any]],
                        matched: Sequence[Sequence[str]], text_fields: Sequence[str],
                        shares: Sequence[float | None] = (), query_labelled: Sequence[str] = (),
                        ) -> list[tuple[str, str] | None]:
        """The pair shown per record, or None. A pair is a reason only when (1) the
        semantic side carried a real part of the fused score (lexical share below
        ``PAIR_MAX_LEXICAL_SHARE``), (2) its cosine clears ``PAIR_MIN_COSINE`` (calibrated
        on demands_dev), (3) both clauses name something (``specific``) and (4) it does
        not repeat a matched term. Labelled problem/effect clauses of either side win
        within ``LABELLED_PREFERENCE``."""
        bp = self.boilerplate
        skip = [s is not None and s >= PAIR_MAX_LEXICAL_SHARE for s in shares] + [False] * len(docs)
        if all(skip[: len(docs)]):
            return [None] * len(docs)
        qlab = [c for t in query_labelled for c in clauses(str(t or ""))]
        qc = qlab + clauses(query_text)
        if bp:
            qc = [c for c in map(bp.strip, qc) if len(c) >= 4]
            qlab = [c for c in map(bp.strip, qlab) if len(c) >= 4]
        qc = list(dict.fromkeys(qc))
        if not qc:
            return [None] * len(docs)
        # labelled problem/effect clauses first: on a tie they are the pair shown
        dcs = [labelled_clauses(d) + record_clauses(d, text_fields) if not sk else []
               for d, sk in zip(docs, skip)]
        if bp:
            dcs = [[c for c in map(bp.strip, cs) if len(c) >= 4] for cs in dcs]
        dcs = [list(dict.fromkeys(cs)) for cs in dcs]
        labelled = [{c for c in map(bp.strip, labelled_clauses(d)) if c} if bp
                    else set(labelled_clauses(d)) for d in docs]
        flat = list(dict.fromkeys(c for cs in dcs for c in cs))
        if not flat:
            return [None] * len(docs)
        qv = np.asarray(self.encode(qc), dtype=np.float32)
        dv = np.asarray(self.encode_records(flat), dtype=np.float32)
        at = {c: i for i, c in enumerate(flat)}
        sims_all = qv @ dv.T  # (len(qc), len(flat)): one product for the page
        qbonus = LABELLED_PREFERENCE * np.fromiter((c in set(qlab) for c in qc), bool, len(qc))
        in_q: dict[str, np.ndarray] = {}  # term -> which query clauses contain it
        out: list[tuple[str, str] | None] = []
        for cs, terms, lab in zip(dcs, matched, labelled):
            if not cs:
                out.append(None)
                continue
            raw = sims_all[:, [at[c] for c in cs]]  # (len(qc), len(cs))
            sims = raw
            # a pair that already shares a matched term adds nothing BM25 did not show
            if terms:
                for t in terms:
                    if t not in in_q:
                        in_q[t] = np.fromiter((t in a for a in qc), bool, len(qc))
                qa = np.stack([in_q[t] for t in terms], axis=1)  # (len(qc), T)
                cb = np.array([[t in b for t in terms] for b in cs], dtype=bool)  # (len(cs), T)
                penal = (qa.astype(np.int32) @ cb.T.astype(np.int32)) > 0
                sims = np.where(penal, sims - 2.0, sims)
            # labelled clauses preferred, but only where their own cosine clears the bar
            bonus = qbonus[:, None] + LABELLED_PREFERENCE * np.fromiter(
                (c in lab for c in cs), bool, len(cs))[None, :]
            sims = sims + bonus
            pair = None
            for flat_i in np.argsort(-sims, axis=None, kind="stable")[:8].tolist():
                i, j = divmod(flat_i, len(cs))
                if sims[i, j] - bonus[i, j] <= PAIR_MIN_COSINE:
                    continue
                if not PAIR_NEEDS_SPECIFIC or (self.specific(qc[i]) and self.specific(cs[j])):
                    pair = (qc[i], cs[j])
                    break
            out.append(pair)
        return out
