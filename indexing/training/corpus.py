"""Real in-domain training text for the static encoder (tokenlearn-style distillation).

The teacher embeds *clauses and sentences* of patent and paper abstracts (short texts are
cheap for the teacher and are the unit a demand paraphrases), and the student's token table
learns to reproduce those vectors. Which records may be used is decided in one place
(``training_records``): never a patent judged in demands_dev or in the zero-overlap set,
never a held-out record (``distill.is_heldout``), so every evaluation task stays honest.
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
    from indexing.training.distill import is_heldout, judged_patent_ids

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
