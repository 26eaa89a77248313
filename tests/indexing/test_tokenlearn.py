"""Tokenlearn-style refinement (issue 20): which records training may see, clause/sentence
splitting, and a refine run on a tiny model (offline, no teacher)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from indexing.training.corpus import clauses, sentences, training_records, training_texts
from indexing.training.static_model import save_static_model
from indexing.training.tokenlearn import load_static, refine, student_space_targets


def _shared(tmp_path: Path) -> Path:
    kp = tmp_path / "kppatent_zh"
    kp.mkdir()
    rows = [{"id": "kpz-test-0001", "title": "留出专利", "abstract": "不应训练。"},
            {"id": "kpz-test-0002", "title": "评测专利", "abstract": "被评测判定。"},
            {"id": "kpz-train-0007", "title": "一种电池", "abstract": "本发明公开了一种电池，包括外壳和电芯；寿命长。"}]
    (kp / "kppatent_zh_joined.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    dd = tmp_path / "demands_dev"
    dd.mkdir()
    (dd / "qrels_kppatent.tsv").write_text("demand_id\tpatent_id\tgrade\nd1\tkpz-test-0002\t3\n", "utf-8")
    return tmp_path


def test_training_never_sees_heldout_or_judged(tmp_path: Path) -> None:
    shared = _shared(tmp_path)
    assert [r["id"] for r in training_records(shared)] == ["kpz-train-0007"]
    tt = training_texts(shared)
    assert "一种电池" in tt["sentences"] and not any("留出" in t or "评测" in t for t in tt["sentences"])
    assert "包括外壳和电芯" in tt["clauses"]


def test_splitting_bounds() -> None:
    assert sentences("短。这是一个足够长的句子。", min_chars=8) == ["这是一个足够长的句子。"]
    assert clauses("本发明公开了一种电池，包括外壳和电芯；寿命长") == ["本发明公开了一种电池", "包括外壳和电芯"]
    assert clauses("") == [] and sentences("") == []


def test_refine_tiny_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tokens = ["电池", "外壳", "寿命", "电", "池", "外", "壳"]
    base = save_static_model(tmp_path / "base", tokens, rng.normal(size=(len(tokens), 8)).astype(np.float32),
                             info={"kind": "test"})
    got_tokens, rows = load_static(base)
    assert got_tokens == tokens and rows.shape == (len(tokens), 8)
    texts = ["电池外壳", "寿命", "电池寿命", "外壳"] * 8
    teacher = rng.normal(size=(len(texts), 12)).astype(np.float32)
    t = student_space_targets(teacher, rng.normal(size=(len(texts), 8)))
    assert t.shape == (len(texts), 8) and np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    out = refine(base, tmp_path / "out", texts, teacher, epochs=1, batch=8, log=lambda m: None)
    tokens2, rows2 = load_static(out)
    assert tokens2 == tokens and np.isfinite(rows2).all()
    assert json.loads((out / "patmatch_encoder.json").read_text())["tokenlearn"]["texts"] == len(texts)
