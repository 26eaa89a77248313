"""A tiny in-memory bundle for matcher tests: real SparseIndex/DenseIndex/SideIndex from
indexing/, the real tokenizer, and the deterministic tiny encoder (no download)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TOPICS = {
    "battery_storage": ("锂电池", "低温", "放电", "电解液", "储能", "正极材料", "续航"),
    "pv": ("光伏", "组件", "逆变器", "发电", "支架", "硅片", "电站"),
    "smart_equipment": ("机器人", "数控机床", "夹具", "伺服", "减速器", "焊接", "装配"),
    "biomedicine": ("抗体", "药物", "注射", "医疗器械", "导管", "细胞", "检测试剂"),
}
TYPES = ("university", "institute", "soe", "enterprise")
REGIONS = ("江苏省常州市", "江苏省南京市", "广东省深圳市")


def make_records(n_per_topic: int = 12) -> tuple[list[dict], list[dict]]:
    patents, demands = [], []
    i = 0
    for chain, words in TOPICS.items():
        for j in range(n_per_topic):
            a, b, c = words[j % 7], words[(j + 2) % 7], words[(j + 4) % 7]
            patents.append({
                "id": f"P{i:03d}", "title": f"一种{a}{b}的方法",
                "abstract": f"本发明公开了一种{a}与{b}装置，通过改进{c}结构，提高了{a}的性能和{b}效率。",
                "chains": [chain] + (["new_materials"] if j % 5 == 0 else []),
                "ipc": [f"H0{1 + (j % 3)}M {j % 10}/00"],
                "applicant_type": TYPES[j % 4], "region": REGIONS[j % 3],
                "legal_valid": j % 6 != 5, "date": f"20{10 + j}-0{1 + j % 9}-15",
                "open_license": j % 4 == 0,
            })
            i += 1
        for j in range(3):
            a, b = words[(j * 3) % 7], words[(j * 3 + 1) % 7]
            demands.append({
                "id": f"D{chain[:3]}{j}", "title": f"求{a}技术",
                "text": f"我们企业需要解决{a}问题，希望提升{b}，可合作开发。",
                "chains": [chain], "region": REGIONS[j % 3],
            })
    return patents, demands


def _side(name: str, rows: list[dict], text_fields: tuple[str, ...], tokenizer: Any,
          encoder: Any) -> Any:
    import polars as pl

    from indexing.index.bundle import SideIndex
    from indexing.index.dense import DenseConfig, DenseIndex
    from indexing.index.sparse import SparseIndex

    fields = {f: [tokenizer.tokenize(r[f]) for r in rows] for f in text_fields}
    sparse = SparseIndex.build(fields, {text_fields[0]: 2.0, text_fields[1]: 1.0})
    texts = [f"{r[text_fields[0]]}。{r[text_fields[1]]}" for r in rows]
    dense = DenseIndex.build(encoder.encode_documents(texts), DenseConfig())
    facet_cols = ("id", "chains", "ipc", "applicant_type", "region", "legal_valid", "date",
                  "open_license")
    facets = pl.DataFrame([{k: r.get(k) for k in facet_cols if k in r or k == "id"} for r in rows])
    docs = pl.DataFrame([{k: r[k] for k in ("id", *text_fields)} for r in rows])
    return SideIndex(name, [r["id"] for r in rows], facets, docs, sparse, dense)


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    from indexing.text.tokenizer import ChineseTokenizer

    return ChineseTokenizer()


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Any:
    from indexing.training.tiny_encoder import make_tiny_encoder

    vocab = sorted(set(itertools.chain.from_iterable(TOPICS.values())) | {"问题", "企业", "方法"})
    return make_tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny", vocab, dim=32, seed=0)


class _Bundle:
    def __init__(self, patents: Any, demands: Any, path: Path) -> None:
        self.patents, self.demands, self.path = patents, demands, path
        self.build_id = "test-build"
        self.manifest = {"build_id": self.build_id}

    def side(self, name: str) -> Any:
        return self.patents if name == "patents" else self.demands


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any, tiny_encoder: Any) -> Any:
    patents, demands = make_records()
    return _Bundle(_side("patents", patents, ("title", "abstract"), tokenizer, tiny_encoder),
                   _side("demands", demands, ("title", "text"), tokenizer, tiny_encoder),
                   tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def ranker(tiny_bundle: Any, tokenizer: Any, tiny_encoder: Any) -> Any:
    from matcher.config import FusionConfig
    from matcher.ranker import HybridRanker

    return HybridRanker(tiny_bundle, tokenizer, tiny_encoder, FusionConfig(candidates=20, depth=30))


@pytest.fixture(scope="session")
def demands_dev_ranker(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demands_dev bundle (3,720 KPPatent-ZH patents + the 70 demands) built by
    ``build_bundle`` with the shipped tokenizer, encoder and labeler, and its ranker with
    the fusion the bundle recorded. Skips when the shared data is absent."""
    from benchmarks.evaluate import default_labeler
    from benchmarks.tasks import load_task
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build_bundle
    from indexing.encoders.encoder import EncoderConfig, load_encoder
    from indexing.text.tokenizer import ChineseTokenizer
    from matcher.config import with_recorded_fusion
    from matcher.ranker import HybridRanker

    task = load_task("demands_dev", shared_data)
    tok = ChineseTokenizer()
    enc = load_encoder(EncoderConfig("default"))
    path = build_bundle(list(task.corpus), list(task.demands),
                        out_dir=tmp_path_factory.mktemp("demands_dev") / "bundle", tokenizer=tok,
                        encoder=enc, labeler=default_labeler(tok),
                        config=with_recorded_fusion(BuildConfig(keep_invalid=True)))
    return HybridRanker.from_bundle(path, tokenizer=tok, encoder=enc)
