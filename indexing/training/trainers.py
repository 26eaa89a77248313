"""The two training loops over a static token table (row 0 = [UNK], kept at zero):
corpus distillation (mean-pooled sentences towards the teacher's vectors) and contrastive
pairs (in-batch InfoNCE). Both are deterministic for ``config.seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class TrainingParams(Protocol):
    """What the loops read from a recipe (``distill.DistillConfig`` is one)."""

    @property
    def seed(self) -> int: ...
    @property
    def epochs(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def l2_pull(self) -> float: ...
    @property
    def batch(self) -> int: ...


def train_on_corpus(table: np.ndarray, tokenizer: Any, texts: Sequence[str], targets: np.ndarray,
                    config: TrainingParams, *, show_progress: bool = False) -> np.ndarray:
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
                      config: TrainingParams, *, epochs: int = 2, lr: float = 0.005, scale: float = 20.0,
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
