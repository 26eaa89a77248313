"""The generated domain dictionary: IPC / industry-chain terms that stock jieba splits.

``python -m indexing.training.domain_dict`` regenerates ``indexing/text/resources/domain_dict.txt``
from ``labeling_spec.domain_terms()`` (or the vendored IPC term table); the tokenizer
loads the file, and its hash is part of the tokenizer fingerprint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from indexing.text.dictionaries import DOMAIN_DICT_FILE
from indexing.text.normalization import CONTENT_CHAR_PATTERN, normalize_text

_BAD_START = tuple("一之其该所并及和与或")
_BAD_END = tuple("的和与或及由组成中内上下")
# counted fragments: "三个侧面", "七到十二元环"
_COUNTED = re.compile(r"^[0-9一二三四五六七八九十两几多单双]+[个种件只条根块片层对台套次级段到或至]")


def domain_dictionary_entries(terms: Iterable[str]) -> list[tuple[str, int]]:
    """Pick the domain terms worth adding to jieba, each with a frequency.

    A term is added only if stock jieba would split it (otherwise nothing changes) and it
    does not look like a fragment ("一个带", "...组成"). Its frequency is jieba's own
    ``suggest_freq`` on the stock dictionary, doubled, so the term wins over its parts
    unless the context strongly prefers another split. Computing frequencies once here,
    instead of at load time, keeps the jieba and rjieba backends identical.
    """
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.initialize()
    seen: set[str] = set()
    out: list[tuple[str, int]] = []
    for raw in terms:
        term = normalize_text(raw.strip())
        if not (2 <= len(term) <= 10) or term in seen or " " in term:
            continue
        if term.startswith(_BAD_START) or term.endswith(_BAD_END) or _COUNTED.match(term):
            continue
        if not CONTENT_CHAR_PATTERN.search(term):
            continue
        seen.add(term)
        if base.FREQ.get(term):
            continue
        pieces = base.lcut(term, HMM=False)
        if len(pieces) < 2:
            continue
        out.append((term, 2 * base.suggest_freq(term, tune=False)))
    return out


def write_domain_dictionary(terms: Iterable[str], path: Path = DOMAIN_DICT_FILE) -> int:
    """Write the generated domain dictionary atomically; returns the number of entries."""
    from patmatch.atomic_io import atomic_write_text

    entries = domain_dictionary_entries(terms)
    body = "".join(f"{w} {f}\n" for w, f in entries)
    atomic_write_text(path, body, mode=0o644)
    return len(entries)


def _source_terms() -> list[str]:
    """labeling_spec.domain_terms() when available, else the vendored IPC term table."""
    try:
        from labeling_spec import domain_terms  # type: ignore[attr-defined]

        return list(domain_terms())
    except ImportError:
        import gzip

        table = Path(__file__).resolve().parents[2] / "labeling_spec" / "tables" / "ipc_terms.txt.gz"
        with gzip.open(table, "rt", encoding="utf-8") as fh:
            return [ln.strip() for ln in fh if ln.strip()]


if __name__ == "__main__":  # python -m indexing.training.domain_dict  -> regenerate resources/domain_dict.txt
    n = write_domain_dictionary(_source_terms())
    print(f"wrote {n} domain terms to {DOMAIN_DICT_FILE}")
