"""The tokenizer's word lists: stopwords, the generated domain dictionary, user dictionaries.

Files live in ``indexing/text/resources``; a dictionary is jieba's ``word [freq] [tag]``
format. Their hashes go into the tokenizer fingerprint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from patmatch.errors import ConfigError, FileFormatError

from indexing.text.normalization import normalize_text

RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
STOPWORDS_FILE = RESOURCES_DIR / "stopwords.txt"
DOMAIN_DICT_FILE = RESOURCES_DIR / "domain_dict.txt"


def _read_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def load_stopwords(path: Path = STOPWORDS_FILE) -> frozenset[str]:
    return frozenset(normalize_text(w) for w in _read_lines(path))


def read_dictionary(path: Path) -> list[tuple[str, int | None]]:
    """Read a jieba-format dictionary (``word [freq] [tag]`` per line)."""
    try:
        lines = _read_lines(path)
    except FileNotFoundError:
        raise ConfigError(f"user dictionary not found: expected a file at {path}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"dictionary {path} must be UTF-8: {exc}") from None
    out: list[tuple[str, int | None]] = []
    for i, line in enumerate(lines, 1):
        parts = line.split()
        freq: int | None = None
        if len(parts) > 1 and parts[1].isdigit():
            freq = int(parts[1])
        elif len(parts) > 1 and not parts[1].isalpha():
            raise FileFormatError(
                f"{path}:{i}: expected 'word [freq] [tag]' with an integer freq, got {line!r}"
            )
        out.append((parts[0], freq))
    return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
