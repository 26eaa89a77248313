"""The two jieba segmenters behind ``ChineseTokenizer``: identical cuts by design.

``jieba`` (pure Python, the reference) and ``rjieba`` (jieba-rs, ~18x faster, used to
build indexes). Each owns a private dictionary, never jieba's global instance.
"""

from __future__ import annotations

import logging

from patmatch.errors import DependencyError


class JiebaSegmenter:
    """Pure-Python jieba with a private ``jieba.Tokenizer`` (the reference implementation)."""

    name = "jieba"

    def __init__(self, hmm: bool, search: bool) -> None:
        import jieba

        # jieba logs dictionary loading at DEBUG on its own handler; keep stderr quiet.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._t = jieba.Tokenizer()
        self._t.initialize()
        self._hmm = hmm
        self._search = search
        self.version = f"jieba-{jieba.__version__}"

    def add_word(self, word: str, freq: int | None) -> None:
        self._t.add_word(word, freq)

    def cut(self, text: str) -> list[str]:
        if self._search:
            return self._t.lcut_for_search(text, HMM=self._hmm)
        return self._t.lcut(text, HMM=self._hmm)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        return list(self._t.tokenize(text, mode="search" if self._search else "default", HMM=self._hmm))


class RJiebaSegmenter:
    """jieba-rs through ``rjieba``: same dictionary and algorithm, in Rust."""

    name = "rjieba"

    def __init__(self, hmm: bool, search: bool) -> None:
        try:
            import rjieba
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DependencyError(
                "tokenizer backend 'rjieba' needs the rjieba package; install it or use "
                f"TokenizerConfig(backend='jieba') ({exc})"
            ) from None
        self._t = rjieba.Jieba()
        self._hmm = hmm
        self._search = search
        self.version = "rjieba-0.2"

    def add_word(self, word: str, freq: int | None) -> None:
        self._t.add_word(word, freq, None)

    def cut(self, text: str) -> list[str]:
        if self._search:
            return self._t.cut_for_search(text, self._hmm)
        return self._t.cut(text, self._hmm)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        return self._t.tokenize(text, "search" if self._search else "default", self._hmm)
