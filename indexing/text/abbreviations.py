"""Colloquial abbreviations in demands (钠电, 正极料, 新能源车) and the full terms patents use.

An SME writes 钠电正极料; the patent says 钠离子电池正极材料. jieba cuts the demand into
钠 / 电 / 正极 / 料, so BM25 sees only 正极 (issue 20). This module finds such short forms
in a query and names the full terms they stand for; the matcher adds the full terms'
index terms to the query at a lower weight (``matcher.expansion``). Documents are never
touched: the index does not depend on this table.

Two sources, one table:

- **learned from the corpus vocabulary** (``AbbreviationIndex``): Chinese abbreviations
  (缩略语) keep one or more characters of each constituent, in order, the first character
  first: 钠离子电池 -> 钠电, 正极材料 -> 正极料, 新能源汽车 -> 新能源车, 风力发电 -> 风电. So a
  short form ``s`` (2-4 characters) is taken for a full term ``f`` of the corpus when
  ``f`` starts with ``s[0]``, holds the characters of ``s`` in order, and ends with
  ``s[-1]`` within its last two characters; ``f`` is longer than ``s`` but at most
  2 x len(s) + 2 characters, and occurs in at least ``min_df`` records. The short form
  must not itself be a word of the corpus (then it has a meaning of its own and matches
  literally). Among several full terms, only those at least ``keep_ratio`` as frequent
  as the most frequent one are kept (正极料: 正极材料, not the rarer 正极浆料), at most
  ``max_full``.
- **a vendored seed table** (``resources/abbreviations.tsv``: short, full, source) of
  common industry abbreviations, including ones no character rule finds (电芯 -> 电池单体,
  pcb -> 印制电路板). A seed full term is used only when the corpus has it.

Only spans made of whole query tokens are candidates (so 规模化 never yields 模化), and a
learned short form must contain a one-character token: the sign that the tokenizer did not
understand it (a whole word it knows, 工人 or 产量, is never taken for an abbreviation of
工业机器人 or 产品质量, even in a corpus that lacks it). And where its tokens meet, the corpus
must (almost) never write those two characters side by side (``pair_df`` below
``min_df``): 钠|电, 降|本, 正极|料 are not written in patents, while 弹性体 makes 性|体 a
plain bigram, so 性体 is no abbreviation of 性气体. Spans come from the tokenizer's own
segmentation (``ChineseTokenizer.tokenize_with_offsets``), so build and serving agree.

The dense encoder's similarity was tried as a second opinion and does not separate
true pairs from false ones (static encoder: 降本 ~ 降低成本 0.30, 模化 ~ 模块化 0.38,
钠电 ~ 钠基电解质 0.74 > 钠电 ~ 钠离子电池 0.63), so it is not used; ``expand`` keeps a
``confirm`` hook for a better judge. Co-occurrence cannot confirm a pair either: the
short form does not occur in patents at all, which is the signal used instead.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from patmatch.errors import FileFormatError

from indexing.text.dictionaries import RESOURCES_DIR, file_sha256
from indexing.text.normalization import normalize_text

SEED_FILE = RESOURCES_DIR / "abbreviations.tsv"

_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


@dataclass(frozen=True)
class Expansion:
    """One short form of a query and a full term it stands for."""

    short: str
    full: str
    source: str  # "seed" or "corpus"
    start: int = 0  # character offsets of the short form in the query
    end: int = 0


def read_seed(path: Path = SEED_FILE) -> dict[str, tuple[str, ...]]:
    """The seed table: normalised short form -> full terms, in file order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"abbreviation table {path} must be UTF-8: {exc}") from None
    out: dict[str, list[str]] = defaultdict(list)
    for i, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            raise FileFormatError(f"{path}:{i}: expected 'short<TAB>full<TAB>source', got {line!r}")
        short, full = normalize_text(parts[0].strip()), normalize_text(parts[1].strip())
        if full not in out[short]:
            out[short].append(full)
    return {k: tuple(v) for k, v in out.items()}


def seed_fingerprint(path: Path = SEED_FILE) -> str | None:
    return file_sha256(path)[:16] if path.is_file() else None


def is_abbreviation_of(short: str, full: str) -> bool:
    """The character rule above: ``short`` keeps characters of ``full`` in order, its
    first is ``full``'s first, its last lies in ``full``'s last two characters."""
    n, m = len(short), len(full)
    if not (2 <= n < m <= 2 * n + 2) or short[0] != full[0] or short[-1] not in full[-2:]:
        return False
    pos = 0
    for c in short[:-1]:
        pos = full.find(c, pos)
        if pos < 0:
            return False
        pos += 1
    # the last character after the others, within the last two
    return full.rfind(short[-1]) >= max(pos, m - 2)


def query_spans(tokens: Sequence[tuple[str, int, int]], *, max_tokens: int = 3,
                max_chars: int = 4) -> list[tuple[str, int, int, bool, int]]:
    """Candidate short forms of a query: runs of 1-``max_tokens`` adjacent whole tokens
    of the tokenizer's segmentation (search-mode sub-words dropped), at most
    ``max_chars`` characters. Returns ``(text, start, end, has_single, cuts)``, where
    ``has_single`` says a one-character token is part of it and ``cuts`` are the offsets
    in ``text`` where its tokens meet."""
    spans = sorted(set(tokens), key=lambda t: (t[1], -t[2]))
    whole: list[tuple[str, int, int]] = []
    for t in spans:  # drop a token inside a longer one (search mode yields both)
        if whole and t[1] >= whole[-1][1] and t[2] <= whole[-1][2]:
            continue
        whole.append(t)
    out = []
    for i in range(len(whole)):
        text, start, end = whole[i]
        single = len(text) == 1
        cuts: tuple[int, ...] = ()
        for j in range(i, min(i + max_tokens, len(whole))):
            if j > i:
                if whole[j][1] != end:  # a gap (stopword, punctuation): the run ends
                    break
                cuts += (len(text),)
                text += whole[j][0]
                end = whole[j][2]
                single = single or len(whole[j][0]) == 1
            if len(text) > max_chars:
                break
            if len(text) >= 2:
                out.append((text, start, end, single, cuts))
    return out


class AbbreviationIndex:
    """Full terms of one corpus vocabulary, found from short forms (module docstring).

    ``terms``: ``(term, document frequency)`` of the corpus's words (n-gram families and
    non-CJK terms are skipped). ``seed``: short form -> full terms (``read_seed``)."""

    def __init__(self, terms: Iterable[tuple[str, int]], *,
                 seed: Mapping[str, Sequence[str]] | None = None, min_df: int = 3,
                 keep_ratio: float = 0.5, max_full: int = 2, max_full_chars: int = 10,
                 learn: bool = True, pair_df: Callable[[str], int] | None = None) -> None:
        self.learn = bool(learn)  # False: the seed table alone
        # documents of the corpus holding a character bigram (None: not checked)
        self.pair_df = pair_df
        self.min_df = int(min_df)
        self.keep_ratio = float(keep_ratio)
        self.max_full = int(max_full)
        self.seed = {normalize_text(k): tuple(v) for k, v in (seed or {}).items()}
        self._df: dict[str, int] = {}
        forms = sorted(self.seed, key=lambda k: (-len(k), k))
        self._seed_re = re.compile("|".join(map(re.escape, forms))) if forms else None
        self._by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
        wanted = {f for fs in self.seed.values() for f in fs}
        for term, df in terms:
            if not term or df <= 0:
                continue
            if term in wanted:
                self._df[term] = int(df)
            if not _CJK.match(term):
                continue
            if len(term) <= 4 or term in wanted:
                self._df[term] = int(df)  # short forms are looked up; full terms counted
            if 3 <= len(term) <= max_full_chars and df >= self.min_df:
                self._df[term] = int(df)
                for c in set(term[-2:]):
                    self._by_key[(term[0], c)].append(term)

    def df(self, term: str) -> int:
        return self._df.get(term, 0)

    def has_seed_form(self, text: str) -> bool:
        """Whether a seed short form occurs in ``text`` (anywhere: a cheap pre-check)."""
        if self._seed_re is None:
            return False
        return self._seed_re.search(normalize_text(text)) is not None

    def learned(self, short: str) -> list[str]:
        """Full terms of the corpus that ``short`` abbreviates, most frequent first."""
        if not self.learn or not _CJK.match(short) or self.df(short) >= self.min_df:
            return []
        cands = [f for f in self._by_key.get((short[0], short[-1]), ()) if is_abbreviation_of(short, f)]
        if not cands:
            return []
        cands.sort(key=lambda f: (-self._df[f], f))
        top = self._df[cands[0]]
        return [f for f in cands if self._df[f] >= self.keep_ratio * top][: self.max_full]

    def expand(self, tokens: Sequence[tuple[str, int, int]],
               confirm: Callable[[str, str], bool] | None = None) -> list[Expansion]:
        """The expansions of one query, given its tokens with offsets (normalised text).
        ``confirm(short, full)``: an optional second opinion on a learned pair; seed
        pairs need none."""
        out: list[Expansion] = []
        seen: set[str] = set()
        for text, start, end, single, cuts in query_spans(tokens):
            for full in self.seed.get(text, ()):
                if full not in seen and full != text and self.df(full) > 0:
                    seen.add(full)
                    out.append(Expansion(text, full, "seed", start, end))
            # learned: only a span with a one-character token (the tokenizer did not
            # understand it: a whole word it knows, 工人 or 产量, is no abbreviation even
            # where patents never use it)
            if text in self.seed or not single:
                continue
            # where the query's tokens meet, the corpus never puts these characters side
            # by side: 钠|电, 降|本, 极|料 -- not 性|体 (弹性体)
            joins = [text[c - 1: c + 1] for c in cuts]
            if self.pair_df is not None and any(self.pair_df(b) >= self.min_df for b in joins):
                continue
            for full in self.learned(text):
                if full not in seen and (confirm is None or confirm(text, full)):
                    seen.add(full)
                    out.append(Expansion(text, full, "corpus", start, end))
        return out


__all__ = ["SEED_FILE", "AbbreviationIndex", "Expansion", "is_abbreviation_of",
           "query_spans", "read_seed", "seed_fingerprint"]
