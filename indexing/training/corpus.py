"""Real in-domain training text for the static encoder (tokenlearn-style distillation).

The teacher embeds *clauses and sentences* of patent and paper abstracts (short texts are
cheap for the teacher and are the unit a demand paraphrases), and the student's token table
learns to reproduce those vectors. Which records may be used is decided in one place
(``training_records``): never a patent judged in demands_dev or in the zero-overlap set,
never a held-out record (``is_heldout``), so every evaluation task stays honest.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

CORPORA = ("kppatent_zh/kppatent_zh_joined.jsonl", "csl/csl_joined_dev_test.jsonl")
_SENT = re.compile(r"(?<=[。；;！？!?])")
_CLAUSE = re.compile(r"[，,、：:（）()]")


def training_records(shared: Path) -> Iterator[dict[str, Any]]:
    """Records of the shared corpora that training may see (see module docstring)."""
    skip = judged_patent_ids(shared)
    for rel in CORPORA:
        path = shared / rel
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                rid = str(rec.get("id", ""))
                if rid and rid not in skip and not is_heldout(rid):
                    yield rec


def sentences(text: str, *, min_chars: int = 8, max_chars: int = 160) -> list[str]:
    out = []
    for s in _SENT.split(text or ""):
        s = s.strip()
        if min_chars <= len(s) <= max_chars:
            out.append(s)
    return out


def clauses(text: str, *, min_chars: int = 6, max_chars: int = 60) -> list[str]:
    out = []
    for s in _SENT.split(text or ""):
        for c in _CLAUSE.split(s):
            c = c.strip(" 。；;！？!?")
            if min_chars <= len(c) <= max_chars:
                out.append(c)
    return out


def first_claim(claims: str) -> str:
    text = (claims or "").strip()
    m = re.search(r"\n\s*2[.、．]", text)
    return text[: m.start()] if m else text[:400]


def training_texts(shared: Path, *, seed: int = 0) -> dict[str, list[str]]:
    """Deduplicated, deterministically shuffled texts by kind: titles + abstract sentences
    (``sentences``), abstract/claim clauses (``clauses``)."""
    sents: list[str] = []
    cls: list[str] = []
    for rec in training_records(shared):
        if rec.get("title"):
            sents.append(rec["title"].strip())
        sents.extend(sentences(rec.get("abstract") or ""))
        cls.extend(clauses(rec.get("abstract") or ""))
        cls.extend(clauses(first_claim(rec.get("claims") or "")))
    rng = np.random.default_rng(seed)
    out = {}
    for name, items in (("sentences", sents), ("clauses", cls)):
        uniq = sorted(set(items))
        out[name] = [uniq[i] for i in rng.permutation(len(uniq))]
    return out


def corpus_words(shared: Path, *, min_count: int = 3) -> list[tuple[str, int]]:
    """Multi-character jieba words of the training records by frequency: the patent terms a
    vocabulary built from jieba's general dictionary misses."""
    from indexing.text.tokenizer import ChineseTokenizer

    tok = ChineseTokenizer()
    counts: Counter[str] = Counter()
    for rec in training_records(shared):
        text = " ".join(str(rec.get(k) or "") for k in ("title", "abstract"))
        counts.update(t for t in set(tok.tokenize(text)) if len(t) >= 2 and not t.isascii())
    return sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda x: (-x[1], x[0]))


# --- what training may see, and the samples drawn from it ----------------------------
def is_heldout(record_id: str) -> bool:
    """Records never used for training, so known-item benchmarks stay honest: the CSL test
    split and odd-numbered KPPatent-ZH test patents (kpz-test-0001, -0003, ...)."""
    if record_id.startswith("csl-test-"):
        return True
    if record_id.startswith("kpz-test-"):
        tail = record_id.rsplit("-", 1)[-1]
        return tail.isdigit() and int(tail) % 2 == 1
    return False


def title_abstract_pairs(shared: Path) -> list[tuple[str, str]]:
    """(title, abstract) and (keyphrases, abstract) pairs from KPPatent-ZH and CSL. Excluded: every patent judged in
    demands_dev (no leakage into the demand set) and the held-out records (``is_heldout``)."""
    skip = judged_patent_ids(shared)
    pairs: list[tuple[str, str]] = []
    for rel in ("kppatent_zh/kppatent_zh_joined.jsonl", "csl/csl_joined_dev_test.jsonl"):
        path = shared / rel
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                rid = str(rec.get("id", ""))
                if rid in skip or is_heldout(rid) or not rec.get("abstract"):
                    continue
                if rec.get("title"):
                    pairs.append((rec["title"], rec["abstract"]))
                keywords = _keywords(rec.get("keywords"))
                if len(keywords) >= 2:  # keyphrases read like a terse demand
                    pairs.append((" ".join(keywords), rec["abstract"]))
    return pairs


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):  # the corpora store a Python-literal list as a string
        import ast

        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return []
    return [str(k).strip() for k in value or [] if str(k).strip()]


def judged_patent_ids(shared: Path) -> set[str]:
    """Patents judged in demands_dev: kept out of every training sample (no leakage)."""
    qrels = shared / "demands_dev" / "qrels_kppatent.tsv"
    if not qrels.exists():
        return set()
    rows = qrels.read_text("utf-8").splitlines()[1:]
    return {r.split("\t")[1] for r in rows if r.count("\t") >= 2}


def corpus_texts_from_shared(shared: Path, n: int, seed: int = 0, *, max_chars: int = 160) -> list[str]:
    """A deterministic sample of real Chinese technical text from ``../shared/data``:
    KPPatent-ZH and CSL titles and abstract passages (sentence groups of <= ``max_chars``),
    boilerplate openings included as they occur. Judged demands_dev patents are excluded."""
    from indexing.encoders.fields import chunk_text

    skip = judged_patent_ids(shared)
    pool: list[str] = []
    for rel in ("kppatent_zh/kppatent_zh_joined.jsonl", "csl/csl_joined_dev_test.jsonl"):
        path = shared / rel
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec.get("id") in skip:
                    continue
                if rec.get("title"):
                    pool.append(rec["title"])
                pool.extend(chunk_text(rec.get("abstract") or "", max_chars))
    pool = sorted(set(p for p in pool if len(p) >= 8))
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(pool))[:n]
    return [pool[i] for i in sorted(pick)]
