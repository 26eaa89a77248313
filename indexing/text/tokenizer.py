"""Chinese text analysis: normalisation and jieba tokenization for the lexical index.

The tokenizer owns its dictionary (never jieba's global instance, which other code in the
process may mutate): the stock jieba dictionary, plus the generated domain dictionary in
``indexing/text/resources/domain_dict.txt`` (from ``labeling_spec.domain_terms()``), plus an
optional operator user dictionary. Two backends segment identically by design: ``jieba``
(pure Python, the reference) and ``rjieba`` (jieba-rs, ~18x faster, used to build indexes);
their agreement is measured in ``benchmarks/text_bench.py`` and tested.

``fingerprint`` hashes everything that changes tokens (code version, config, dictionaries,
stopwords); every index bundle records it and refuses a tokenizer with another one.
Normalisation lives in ``normalization``, word lists in ``dictionaries``, the two jieba
backends in ``segmenters``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from patmatch.config import checked_fields
from patmatch.errors import ConfigError

from indexing.text.dictionaries import (DOMAIN_DICT_FILE, STOPWORDS_FILE, file_sha256,
                                        load_stopwords, read_dictionary)
from indexing.text.ngrams import NgramTerms
from indexing.text.normalization import (CHAR_TOKEN_PATTERN, CONTENT_CHAR_PATTERN, normalize_many,
                                         normalize_text)
from indexing.text.segmenters import JiebaSegmenter, RJiebaSegmenter

TOKENIZER_VERSION = "1"


Backend = Literal["rjieba", "jieba"]
Mode = Literal["words", "chars"]


@dataclass(frozen=True)
class TokenizerConfig:
    backend: Backend = "rjieba"
    mode: Mode = "words"
    domain_dict: bool = True
    user_dict: str | None = None
    # jieba's HMM guesses unknown words; both backends implement the same model.
    hmm: bool = True
    stopwords: bool = True
    # jieba "search" mode: long words also yield their dictionary sub-words
    # (锂离子电池 -> 锂离子, 电池, 锂离子电池), so a query's shorter wording still matches.
    search: bool = True
    # lexical index terms next to the words (words mode only): overlapping character
    # bigrams and single characters, each in its own prefixed family (indexing/text/ngrams.py)
    ngrams: tuple[str, ...] = ("bigram", "char")

    def __post_init__(self) -> None:
        if self.backend not in ("rjieba", "jieba"):
            raise ConfigError(f"tokenizer backend must be 'rjieba' or 'jieba', got {self.backend!r}")
        if self.mode not in ("words", "chars"):
            raise ConfigError(f"tokenizer mode must be 'words' or 'chars', got {self.mode!r}")
        ngrams = (self.ngrams,) if isinstance(self.ngrams, str) else tuple(self.ngrams or ())
        if set(ngrams) - {"bigram", "char"}:
            raise ConfigError(f"tokenizer ngrams must be some of ['bigram', 'char'], got {list(ngrams)}")
        object.__setattr__(self, "ngrams", ngrams)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ngrams"] = list(self.ngrams)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        return cls(**checked_fields(cls, data, "tokenizer config keys"))

    @classmethod
    def recorded(cls, data: dict[str, Any] | None) -> TokenizerConfig:
        """The config a bundle's manifest recorded. Bundles built before the n-gram
        families existed recorded no ``ngrams`` key: they have none, so they keep loading
        (same fingerprint) and keep scoring words only until the next build."""
        data = dict(data or {})
        data.setdefault("ngrams", ())
        return cls.from_dict(data)


# --- token classes -------------------------------------------------------------------
_HYPHEN = re.compile(r"-+")
_NOT_HYPHEN = re.compile(r"[^-]+")
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
# Physical units glued to a preceding number ("3.5" + "℃" -> "3.5℃"); money and time
# words stay separate because demands say "50万元" and patents never do.
UNITS = frozenset(
    "℃ °c % ‰ mm cm m km nm um μm kg g mg t l ml v kv mv w kw mw a ma hz khz mhz ghz "
    "pa kpa mpa gpa s ms min h rpm db kwh mah ah 毫米 厘米 米 千米 纳米 微米 吨 千克 公斤 克 "
    "毫克 升 毫升 伏 千伏 瓦 千瓦 兆瓦 安 毫安 赫兹 帕 兆帕 转 分贝 度".split()
)


# --- the tokenizer -------------------------------------------------------------------
class ChineseTokenizer:
    """jieba tokenization with normalisation, stopwords, unit merging and offsets."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._stopwords = load_stopwords() if self.config.stopwords else frozenset()
        self._words: list[tuple[str, int | None]] = []
        if self.config.domain_dict and DOMAIN_DICT_FILE.exists():
            self._words += read_dictionary(DOMAIN_DICT_FILE)
        if self.config.user_dict:
            self._words += read_dictionary(Path(self.config.user_dict).expanduser())
        self._backend: JiebaSegmenter | RJiebaSegmenter | None = None
        self._lock = threading.Lock()
        self._keep: dict[str, str | None] = {}

    # The dictionary is loaded on first use: constructing a tokenizer (e.g. to read a
    # fingerprint from a manifest) stays cheap.
    @property
    def backend(self) -> JiebaSegmenter | RJiebaSegmenter:
        if self._backend is None:
            with self._lock:  # API worker threads may race to the first request
                if self._backend is None:
                    cls = RJiebaSegmenter if self.config.backend == "rjieba" else JiebaSegmenter
                    b = cls(self.config.hmm, self.config.search)
                    for word, freq in self._words:
                        b.add_word(normalize_text(word), freq)
                    self._backend = b
        return self._backend

    @cached_property
    def fingerprint(self) -> str:
        parts: dict[str, Any] = {
            "version": TOKENIZER_VERSION,
            # no n-grams hashes as before they existed: older bundles keep their fingerprint
            "config": {k: v for k, v in self.config.to_dict().items()
                       if k != "user_dict" and not (k == "ngrams" and not v)},
            "stopwords": file_sha256(STOPWORDS_FILE) if self.config.stopwords else None,
            "domain_dict": (
                file_sha256(DOMAIN_DICT_FILE)
                if self.config.domain_dict and DOMAIN_DICT_FILE.exists()
                else None
            ),
            # The user dictionary counts by content, not by path.
            "user_dict": (
                file_sha256(Path(self.config.user_dict).expanduser()) if self.config.user_dict else None
            ),
        }
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
        return "tok-" + hashlib.sha256(blob).hexdigest()[:16]

    def _bounded_cache(self) -> dict[str, str | None]:
        if len(self._keep) > 500_000:
            self._keep.clear()
        return self._keep

    def _classify(self, token: str) -> str | None:
        """The index term for a raw token, or None to drop it (cached per token)."""
        hit = self._keep.get(token, "")
        if hit != "":
            return hit
        t = token.strip()
        keep = t if t and CONTENT_CHAR_PATTERN.search(t) and t not in self._stopwords else None
        self._keep[token] = keep
        return keep

    # jieba-rs keeps "2-8" whole where jieba splits "2", "-", "8": split hyphenated ASCII
    # tokens in both backends so they agree (and "2-8" still matches "2～8").
    @staticmethod
    def _split_ascii(tokens: list[str]) -> Iterable[str]:
        for raw in tokens:
            if "-" in raw and len(raw) > 1 and raw.isascii():
                yield from (p for p in _HYPHEN.split(raw) if p)
            else:
                yield raw

    @staticmethod
    def _split_ascii_spans(spans: Iterable[tuple[str, int, int]]) -> Iterable[tuple[str, int, int]]:
        for raw, start, end in spans:
            if "-" in raw and len(raw) > 1 and raw.isascii():
                for m in _NOT_HYPHEN.finditer(raw):
                    yield m.group(), start + m.start(), start + m.end()
            else:
                yield raw, start, end

    def tokenize(self, text: str) -> list[str]:
        """Index terms of ``text``: normalised, stopwords and punctuation removed."""
        return self._terms(normalize_text(text)) if text else []

    def _terms(self, norm: str) -> list[str]:
        """Index terms of an already normalised text."""
        if self.config.mode == "chars":
            return [m.group() for m in CHAR_TOKEN_PATTERN.finditer(norm) if m.group() not in self._stopwords]
        raws = self.backend.cut(norm)
        keep = self._bounded_cache()
        if "-" not in norm and UNITS.isdisjoint(raws):
            # the common case: no unit to glue, no hyphen to split, so each raw token maps
            # to its term alone, through the per-token cache at C speed
            for _ in range(2):
                try:
                    return [t for t in map(keep.__getitem__, raws) if t is not None]
                except KeyError:  # tokens seen for the first time: classify just those
                    for raw in raws:
                        if raw not in keep:
                            self._classify(raw)
            # another thread cleared the cache in between: classify one by one
            return [t for t in map(self._classify, raws) if t is not None]
        out: list[str] = []
        prev = ""
        for raw in self._split_ascii(raws):
            if raw in UNITS and out and prev == out[-1] and _NUMBER.match(prev):
                out[-1] = prev + raw
                prev = out[-1]
                continue
            term = self._classify(raw)
            prev = raw
            if term is not None:
                out.append(term)
        return out

    @cached_property
    def ngram_terms(self) -> NgramTerms | None:
        """The n-gram families of the lexical index, or None (chars mode, or disabled)."""
        if self.config.mode != "words" or not self.config.ngrams:
            return None
        return NgramTerms(self._stopwords, self.config.ngrams)

    def tokenize_lexical(self, text: str) -> list[str]:
        """Every lexical index term of a query: the words, then the prefixed n-grams.
        Bundles index each family as fields of its own, so BM25 over these terms sums
        the word and n-gram fields with their weights."""
        if not text:
            return []
        norm = normalize_text(text)
        out = self._terms(norm)
        if self.ngram_terms is not None:
            for terms in self.ngram_terms.terms(norm).values():
                out += terms
        return out

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return self.tokenize_normalized(normalize_many(texts))

    def tokenize_normalized(self, norm_texts: Sequence[str]) -> list[list[str]]:
        """``tokenize_many`` of texts already passed through ``normalize_text`` (or
        ``normalize_many``): callers that need the normalised text too normalise once."""
        terms = self._terms
        return [terms(t) if t else [] for t in norm_texts]

    def iter_tokenize(self, texts: Iterable[str]) -> Iterable[list[str]]:
        for t in texts:
            yield self.tokenize(t)

    def tokenize_with_offsets(self, text: str) -> list[tuple[str, int, int]]:
        """``(term, start, end)``: the same terms as ``tokenize``, with character offsets
        into the ORIGINAL ``text`` (``text[start:end]`` is the surface form)."""
        if not text:
            return []
        norm = normalize_text(text)
        if self.config.mode == "chars":
            return [
                (m.group(), m.start(), m.end())
                for m in CHAR_TOKEN_PATTERN.finditer(norm)
                if m.group() not in self._stopwords
            ]
        self._bounded_cache()
        out: list[tuple[str, int, int]] = []
        prev_end = -1
        prev_raw = ""
        for raw, start, end in self._split_ascii_spans(self.backend.spans(norm)):
            if (
                raw in UNITS
                and out
                and out[-1][2] == start == prev_end
                and out[-1][0] == prev_raw
                and _NUMBER.match(prev_raw)
            ):
                out[-1] = (prev_raw + raw, out[-1][1], end)
                prev_raw, prev_end = out[-1][0], end
                continue
            term = self._classify(raw)
            prev_raw, prev_end = raw, end
            if term is not None:
                # strip() in _classify may drop surrounding spaces: keep offsets exact.
                lead = len(raw) - len(raw.lstrip())
                out.append((term, start + lead, start + lead + len(term)))
        return out

    # Picklable for multiprocessing: ship the config, rebuild the dictionary on arrival.
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"ChineseTokenizer({self.config!r}, fingerprint={self.fingerprint!r})"
