"""Explanations prefer the patent's labelled problem/effect (issue 20): when a labelled
clause matches the demand about as well as any abstract clause, the semantic pair quotes
it ("it solves X"), never when it does not match the demand at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.clauses import LABELLED_PREFERENCE, Boilerplate, labelled_clauses
from matcher.explain import Explainer


def _vec(table: dict[str, list[float]]):  # noqa: ANN202
    def encode(texts: list[str]) -> np.ndarray:
        v = np.array([table.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    return encode


def _pair(table: dict[str, list[float]], doc: dict[str, str], query: str) -> tuple[str, str] | None:
    ex = Explainer(lambda t: [], _vec(table))
    return ex.explain_page(query, [doc])[0].semantic_pair


def test_labelled_clause_wins_within_the_margin_only() -> None:
    q = "手机屏幕老是摔碎"
    doc = {"title": "", "abstract": "玻璃盖板的制备方法", "problem": "解决盖板易碎裂的问题"}
    a = np.array([1.0, 0.0, 0.0])
    near = a * np.cos(0.30) + np.array([0.0, 1.0, 0.0]) * np.sin(0.30)
    far = a * np.cos(0.9) + np.array([0.0, 1.0, 0.0]) * np.sin(0.9)
    # the labelled problem is a little less close than the abstract clause: still shown
    close = {q: a.tolist(), "玻璃盖板的制备方法": a.tolist(), "解决盖板易碎裂的问题": near.tolist()}
    assert float(near @ a) > 1.0 - LABELLED_PREFERENCE
    assert _pair(close, doc, q) == (q, "解决盖板易碎裂的问题")
    # clearly less close: the abstract clause is the better reason
    off = {**close, "解决盖板易碎裂的问题": far.tolist()}
    assert _pair(off, doc, q) == (q, "玻璃盖板的制备方法")
    # a labelled clause that does not match the demand at all is never quoted
    only = {q: a.tolist(), "玻璃盖板的制备方法": [0.0, 0.0, 1.0],
            "解决盖板易碎裂的问题": [0.25, 0.0, 0.97]}
    assert _pair(only, doc, q) is None


def test_no_labels_and_garbage_labels() -> None:
    assert labelled_clauses({}) == []
    assert labelled_clauses({"problem": None, "effect": "  "}) == []
    assert labelled_clauses({"problem": 12345, "effect": "，。；"}) == ["12345"]
    ex = Explainer(lambda t: [], _vec({}))
    assert ex.explain_page("需要更耐用的材料", [{"problem": "", "abstract": ""}])[0].semantic_pair is None


def test_real_pairs_quote_the_labelled_problem(shared_data: Path) -> None:
    """The zero-overlap demands against their own KPPatent-ZH patents, labelled by the real
    labeler, explained with the shipped encoder and boilerplate learned from the corpus."""
    from benchmarks.tasks import kppatent_records, zero_overlap_pairs
    from indexing.build.relabel import fresh_labels
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer
    from labeling_spec import Labeler

    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig("default"))
    corpus = kppatent_records(shared_data)
    by_id = {r.id: r for r in corpus}
    pairs = zero_overlap_pairs()
    recs = [by_id[p] for _, p, _ in pairs]
    labels = fresh_labels("patents", recs, {}, Labeler.load(tokenize=tok.tokenize))[0]
    bp = Boilerplate.learn(f"{r.title}。{r.abstract}" for r in corpus)
    ex = Explainer(tok.tokenize, enc.encode_queries, encode_records=enc.encode_documents,
                   boilerplate=bp)
    plain = [{"title": r.title, "abstract": r.abstract} for r in recs]
    labelled = [{**d, **{k: labels.get(r.id, {}).get(k) for k in ("problem", "effect")}}
                for d, r in zip(plain, recs, strict=True)]
    assert sum(bool(labelled_clauses(d)) for d in labelled) >= 20  # the labeler found some

    def quoted(docs: list[dict]) -> list[tuple[str, str] | None]:
        return [ex.explain_page(text, [d])[0].semantic_pair for (_, _, text), d in
                zip(pairs, docs, strict=True)]

    before, after = quoted(plain), quoted(labelled)
    hits = []
    for d, pair in zip(labelled, after, strict=True):
        own = {bp.strip(c) for c in labelled_clauses(d)}
        if pair and pair[1] in own:
            hits.append(pair)
    assert len(hits) >= 4
    # a quoted labelled clause really matches its demand clause (the bar, no bonus)
    q = enc.encode_queries([p[0] for p in hits])
    d = enc.encode_documents([p[1] for p in hits])
    assert np.all(np.sum(q * d, axis=1) > 0.3)
    # the labels change the reason only towards labelled clauses, and never lose a reason
    assert sum(p is not None for p in after) >= sum(p is not None for p in before)
