"""HybridRanker: query -> BM25 top-k0 and dense top-k0 under the same filters -> fusion
-> an explained, paginated list.

Filters are applied INSIDE both retrievals (the side's boolean mask goes into the BM25
scorer and into FAISS's ID selector), so a narrow filter still yields k0 candidates per
side whenever k0 rows pass it; nothing is post-filtered.

Stable pagination: the fused list is always materialised to ``FusionConfig.depth``
records, whatever page is asked for, and pages are slices of it. Page 3 is therefore
the same whether or not page 1 was fetched, and pages never overlap or skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from indexing.index.filters import Filters
from matcher.config import FusionConfig, recorded_fusion
from matcher.expansion import expander_for, weighted
from matcher.explain import Explainer
from matcher.fusion import fuse_arrays
from matcher.kernels import lexical_tokens
from matcher.matched_terms import generic_df_limit
from matcher.queries import record_text
from matcher.label_prior import apply_label_weight
from matcher.record_facts import facts_of
from matcher.results import Match, MatchList
from patmatch.errors import InputError, NotFoundError

DIRECTIONS = ("demand-to-patent", "text-to-patent", "patent-to-demand")
def _to_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v if x is not None]


def _nan_none(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


@contextmanager
def _single_omp_thread() -> Iterator[None]:
    """One query at a time runs FAISS with one OpenMP thread: on this 2-core machine the
    thread team's start-up and spin-waiting cost ~20 ms per flat search over 20k vectors,
    the search itself ~1 ms (measured: p50 24 ms -> 1 ms). The setting is the calling
    thread's own OpenMP ICV, restored afterwards, so batch kernels keep their threads."""
    import faiss

    prev = faiss.omp_get_max_threads()
    if prev == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


def runtime_for(bundle: Any, settings: Any = None, *, tokenizer: Any = None,
                encoder: Any = None) -> tuple[Any, Any]:
    """(tokenizer, encoder) for a bundle: its recorded configs, else the settings' encoder.
    ``bundle`` may be a loaded IndexBundle or a bundle directory (manifest only is read)."""
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

    from indexing.index.bundle import Manifest, tokenizer_config_dict

    if hasattr(bundle, "manifest"):
        manifest, root = bundle.manifest, Path(bundle.path)
    else:
        manifest, root = Manifest.read(Path(bundle)), Path(bundle)
    if tokenizer is None:
        tcfg = tokenizer_config_dict(manifest, root)
        tokenizer = ChineseTokenizer(TokenizerConfig.recorded(tcfg) if tcfg else None)
    if encoder is None:
        ecfg = manifest.encoder.config
        if ecfg:
            cfg = EncoderConfig.from_dict(ecfg)
        else:
            from patmatch.settings import get_settings

            cfg = EncoderConfig(name=(settings or get_settings()).encoder)
        encoder = load_encoder(cfg, settings)
    manifest.check_fingerprints(tokenizer=tokenizer.fingerprint, encoder=encoder.fingerprint)
    return tokenizer, encoder


class HybridRanker:
    def __init__(self, bundle: Any, tokenizer: Any, encoder: Any,
                 config: FusionConfig | None = None) -> None:
        self.bundle = bundle
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.config = config or recorded_fusion(bundle)
        self._df: dict[str, np.ndarray] = {}
        self._cols: dict[str, dict[str, list[Any]]] = {}
        self._clause_memo: dict[str, dict[str, bool]] = {}  # side -> clause names something
        # the same vectors as the encoder's own methods, without its per-call overhead
        # (indexing/encoders/static_encode.py); None for encoders that are not static embeddings
        from indexing.encoders.static_encode import static_encode_for
        from matcher.semantic import shared_memo

        self._encode_query = static_encode_for(encoder, queries=True)
        self._encode_docs = static_encode_for(encoder)
        self._encode_records = shared_memo(encoder, self._encode_docs or encoder.encode_documents)

    @classmethod
    def from_bundle(cls, bundle: Any, settings: Any = None, config: FusionConfig | None = None,
                    *, tokenizer: Any = None, encoder: Any = None) -> HybridRanker:
        """A ranker over ``bundle`` (an IndexBundle or its path) with the tokenizer and
        encoder it was built with; refuses a mismatch (BundleMismatchError). ``config``
        None = the fusion the bundle recorded at build time (``recorded_fusion``)."""
        tokenizer, encoder = runtime_for(bundle, settings, tokenizer=tokenizer, encoder=encoder)
        if not hasattr(bundle, "patents"):
            from indexing.index.bundle import IndexBundle

            bundle = IndexBundle.load(bundle, tokenizer_fingerprint=tokenizer.fingerprint,
                                      encoder_fingerprint=encoder.fingerprint)
        return cls(bundle, tokenizer, encoder, config)

    # --- public directions ------------------------------------------------------------
    def match_text(self, text: str, *, filters: Filters | None = None, limit: int = 10,
                   offset: int = 0, fusion: FusionConfig | None = None,
                   explain: bool = True, semantic_reason: bool = True) -> MatchList:
        """Free text -> patents (the query is encoded as a query)."""
        text = (text or "").strip()
        if not text:
            raise InputError("query text is empty: expected a description of the need")
        filters = filters if filters is not None else Filters()
        enc = self._encode_query or self.encoder.encode_queries
        vec = enc([text])[0]
        return self._run("patents", "text-to-patent", None, text, vec, filters, limit, offset,
                         fusion, [], explain, semantic_reason)

    def match_demand(self, demand_id: str, *, filters: Filters | None = None, limit: int = 10,
                     offset: int = 0, fusion: FusionConfig | None = None,
                     explain: bool = True, semantic_reason: bool = True) -> MatchList:
        """A demand in the bundle -> patents (its stored vector, its chains for reasons)."""
        side = self.bundle.demands
        row = side.row_of(demand_id)
        if row is None:
            raise NotFoundError(f"demand {demand_id!r} is not in bundle {self.bundle.build_id}",
                                details={"demand_id": demand_id})
        doc = side.doc(row)
        text = record_text(doc, "demands")
        chains = self._chains(side, row)
        filters = filters if filters is not None else Filters()
        # the demand's labelled problem/effect: preferred query side of a semantic pair
        labelled = tuple(str(doc.get(k) or "") for k in ("problem", "effect"))
        return self._run("patents", "demand-to-patent", demand_id, text,
                         np.asarray(side.vectors[row]), filters, limit, offset, fusion,
                         chains, explain, semantic_reason, labelled)

    def match_patent(self, patent_id: str, *, filters: Filters | None = None, limit: int = 10,
                     offset: int = 0, fusion: FusionConfig | None = None,
                     explain: bool = True, semantic_reason: bool = True) -> MatchList:
        """A patent -> demands (for university technology managers looking for buyers).

        Legal-status filtering is meaningless on demands, so ``valid_only`` is ignored."""
        side = self.bundle.patents
        row = side.row_of(patent_id)
        if row is None:
            raise NotFoundError(f"patent {patent_id!r} is not in bundle {self.bundle.build_id}",
                                details={"patent_id": patent_id})
        text = record_text(side.doc(row), "patents")
        filters = replace(filters, valid_only=False) if filters is not None else Filters(valid_only=False)
        return self._run("demands", "patent-to-demand", patent_id, text,
                         np.asarray(side.vectors[row]), filters, limit, offset, fusion,
                         self._chains(side, row), explain, semantic_reason)

    def prepare(self, sides: tuple[str, ...] = ("patents",), *,
                yield_gil: bool = False) -> dict[str, int]:
        """Per-bundle precomputation for the interactive path, before the bundle serves:
        the sides' display columns as Python lists, and the vectors of the record clauses
        the semantic pairs use (into the encoder's shared memo; skipped for a bundle
        already prepared, e.g. when a rollback swaps back). ~1-3 s of CPU for 20k patents.

        ``yield_gil``: when a serving bundle is being replaced, pause briefly every ~500
        records so requests on the serving thread are not starved of the GIL (the swap
        takes a little longer, request latency stays flat)."""
        import time

        from matcher.clauses import record_clauses

        def breathe() -> None:
            if yield_gil:
                time.sleep(0.001)

        out: dict[str, int] = {}
        build = str(getattr(self.bundle, "build_id", id(self.bundle)))
        for name in sides:
            side = self.bundle.side(name)
            _ = expander_for(side, self.tokenizer, self.config).index  # learns abbreviations once
            cols = self._doc_columns(side)
            memo = self._encode_records
            key = f"{build}:{name}"
            if cols is None or self._encode_docs is None or key in memo.prefilled:
                out[name] = 0  # a slow encoder would take minutes: requests fill the memo
                continue
            fields = [f for f in (("title", "abstract") if name == "patents" else ("title", "text"))
                      if f in cols]
            texts: list[str] = []
            bp = self.boilerplate()
            for start in range(0, len(side.ids), 500):
                for i in range(start, min(start + 500, len(side.ids))):
                    cs = record_clauses({f: cols[f][i] for f in fields}, fields)
                    texts.extend(c for c in map(bp.strip, cs) if len(c) >= 4) if bp else texts.extend(cs)
                breathe()
            out[name] = memo.prefill(texts, key, batch=1024, pause=breathe)
        return out

    def chain_pairs(self, chain: str, *, limit: int = 50, offset: int = 0, **kwargs: Any):  # noqa: ANN201
        from matcher.chains import chain_pairs

        return chain_pairs(self, chain, limit=limit, offset=offset, **kwargs)

    # --- retrieval --------------------------------------------------------------------
    def retrieve(self, side_name: str, tokens: list[str], vector: np.ndarray,
                 mask: np.ndarray | None, fusion: FusionConfig,
                 extra: list[str] | None = None) -> dict[str, np.ndarray]:
        """Both retrievals under ``mask`` and their fusion, to ``fusion.depth`` rows.
        ``extra``: expansion terms of the query, at ``fusion.expansion_weight``."""
        side = self.bundle.side(side_name)
        k0 = fusion.candidates
        if mask is not None and not mask.any():
            empty = np.empty((1, 0))
            return fuse_arrays(empty.astype(np.int64), empty, empty.astype(np.int64), empty)
        tokens, weights = weighted(tokens, extra or (), fusion.expansion_weight)
        lr, ls = (side.search_lexical(tokens, k0, mask, weights=weights) if tokens
                  else (np.empty(0, np.int64), np.empty(0)))
        with _single_omp_thread():
            dr, ds = side.search_dense(np.asarray(vector, dtype=np.float32), k0, mask)
        bound = (fusion.lexical_bound * side.sparse.query_bound(tokens, weights)
                 if fusion.bounded and tokens else None)
        fused = fuse_arrays(lr[None, :], ls[None, :], dr[None, :], ds[None, :],
                            method=fusion.method, weights=fusion.weights, rrf_k=fusion.rrf_k,
                            norm=fusion.norm, limit=fusion.depth, lexical_bound=bound)
        return apply_label_weight(fused, side, fusion)

    def _run(self, side_name: str, direction: str, query_id: str | None, text: str,
             vector: np.ndarray, filters: Filters, limit: int, offset: int,
             fusion: FusionConfig | None, query_chains: list[str], explain: bool,
             semantic_reason: bool, query_labelled: tuple[str, ...] = ()) -> MatchList:
        fusion = fusion or self.config
        if limit < 1 or offset < 0:
            raise InputError(f"expected limit >= 1 and offset >= 0, got limit={limit}, offset={offset}")
        if offset >= fusion.depth:
            raise InputError(
                f"offset {offset} is beyond the ranked depth {fusion.depth}: lists are ranked "
                f"{fusion.depth} deep for stable pagination; narrow the query with filters",
                details={"offset": offset, "depth": fusion.depth})
        side = self.bundle.side(side_name)
        mask = side.mask(filters)
        tokens = lexical_tokens(self.tokenizer, text)
        extra, expanded = expander_for(side, self.tokenizer, fusion).extra_tokens(text, tokens)
        fused = self.retrieve(side_name, tokens, vector, mask, fusion, extra)
        rows = fused["rows"][0]
        total = int((rows >= 0).sum())
        page = slice(offset, min(offset + limit, total))
        prows = rows[page]
        docs = self._docs(side, prows)
        qterms: list[str] = []
        if explain:
            explainer = self.explainer(side)
            qterms = explainer.query_terms(text, tokens)
            # the full terms of the query's abbreviations are shown when found (钠离子电池)
            qterms += [f for f in dict.fromkeys(e.full for e in expanded) if f not in qterms]
            from matcher.explain import lexical_share

            shares = [lexical_share(float(fused["score"][0, offset + i]),
                                    float(fused["lexical_part"][0, offset + i]))
                      for i in range(len(docs))]
            exps = explainer.explain_page(
                text, docs, query_chains=query_chains, semantic=semantic_reason,
                query_terms=qterms, lexical_shares=shares, query_labelled=query_labelled,
                text_fields=("title", "abstract") if side_name == "patents" else ("title", "text"))
        else:
            exps = [None] * len(docs)
        items = []
        for i, (r, doc, ex) in enumerate(zip(prows, docs, exps)):
            j = offset + i
            items.append(Match(
                record_id=side.ids[int(r)], rank=j + 1, score=float(fused["score"][0, j]),
                lexical_score=_nan_none(fused["lexical_score"][0, j]),
                semantic_score=_nan_none(fused["semantic_score"][0, j]),
                lexical_rank=int(fused["lexical_rank"][0, j]),
                semantic_rank=int(fused["semantic_rank"][0, j]),
                chains=tuple(_to_list(doc.get("chains"))),
                matched_terms=ex.matched_terms if ex else (),
                highlights=ex.highlights if ex else (),
                shared_labels=ex.shared_labels if ex else {},
                reason=ex.reason if ex else "",
                title=str(doc.get("title") or ""),
                semantic_pair=ex.semantic_pair if ex else None,
                facts=facts_of(doc),
            ))
        return MatchList(query_id=query_id, direction=direction, total=total, offset=offset,
                         limit=limit, items=tuple(items), fusion=fusion.to_dict(),
                         filters=filters.to_dict(), build_id=getattr(self.bundle, "build_id", None),
                         query_terms=tuple(qterms),
                         matching=int(mask.sum()) if mask is not None else len(side.ids))

    # --- helpers ----------------------------------------------------------------------
    def explainer(self, side: Any) -> Explainer:
        df = self._doc_freq(side)
        vocab = side.sparse.vocab_index if hasattr(side, "sparse") else {}

        def weight(term: str) -> float:
            i = vocab.get(term)
            return -float(df[i]) if i is not None and df is not None else 1.0

        encode = self._encode_docs or self.encoder.encode_documents

        n = max(len(side.ids), 1)

        def generic(term: str) -> bool:
            i = vocab.get(term)
            return i is not None and df is not None and df[i] > generic_df_limit(n)

        return Explainer(self.tokenizer.tokenize, encode, term_weight=weight, generic=generic,
                         encode_records=self._encode_records, boilerplate=self.boilerplate(),
                         clause_memo=self._clause_memo.setdefault(side.name, {}))

    def boilerplate(self) -> Any:
        """Boilerplate clauses and heads learned from both sides' texts by document
        frequency (``matcher.clauses.learn_boilerplate``), once per bundle (~1 s per 20k)."""
        bp = self.__dict__.get("_boilerplate")
        if bp is None:
            from matcher.clauses import learn_boilerplate

            def columns(name: str) -> dict[str, list[Any]] | None:
                try:
                    return self._doc_columns(self.bundle.side(name))
                except Exception:  # noqa: BLE001 - a bundle without that side
                    return None

            bp = self.__dict__["_boilerplate"] = learn_boilerplate(
                {"patents": columns("patents"), "demands": columns("demands")})
        return bp

    def _doc_freq(self, side: Any) -> np.ndarray | None:
        if side.name not in self._df:
            sparse = getattr(side, "sparse", None)
            if sparse is None:
                return None
            m = sparse.matrix  # CSC (n_docs, V): column nnz = document frequency
            self._df[side.name] = np.diff(m.indptr)
        return self._df[side.name]

    @staticmethod
    def _chains(side: Any, row: int) -> list[str]:
        if "chains" not in side.facets.columns:
            return []
        return _to_list(side.facets["chains"][row])

    def _docs(self, side: Any, rows: np.ndarray) -> list[dict[str, Any]]:
        """The page's display docs. Each side's doc columns are turned into Python lists
        once per bundle (~20 MB for 20k patents): a polars row or gather per request costs
        0.3-1 ms and its thread pool competes with the other requests."""
        cols = self._doc_columns(side)
        if cols is None:
            return [self._doc(side, int(r)) for r in rows]
        return [{c: v[r] for c, v in cols.items()} for r in rows.tolist()]

    def _doc_columns(self, side: Any) -> dict[str, list[Any]] | None:
        name = getattr(side, "name", None)
        cols = self._cols.get(name)
        if cols is None:
            docs_df, facets = getattr(side, "docs", None), getattr(side, "facets", None)
            if name is None or not hasattr(docs_df, "to_dict") or not hasattr(facets, "columns"):
                return None
            cols = {c: docs_df[c].to_list() for c in docs_df.columns}
            for col in ("chains", "ipc"):
                if col in facets.columns and col not in cols:
                    cols[col] = facets[col].to_list()
            self._cols[name] = cols  # a benign race: two threads build the same lists
        return cols

    @staticmethod
    def _doc(side: Any, row: int) -> dict[str, Any]:
        doc = dict(side.doc(row))
        facets = side.facets
        for col in ("chains", "ipc"):
            if col in facets.columns and col not in doc:
                doc[col] = facets[col][row]
        if "chains" in doc and not isinstance(doc["chains"], (list, tuple, str, type(None))):
            doc["chains"] = list(doc["chains"])
        return doc
