"""A tiny synthetic task (8 patents, 4 demands) and a tiny encoder over its words."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.tasks import Task
from indexing.records import DemandRecord, PatentRecord

DOCS = {
    "p1": ("锂电池隔膜涂层", "一种锂离子电池陶瓷涂覆隔膜，提高耐热性和安全性。"),
    "p2": ("光伏组件清洗机器人", "用于光伏电站的清洗机器人，自动清除组件表面灰尘。"),
    "p3": ("碳纤维复合材料", "一种碳纤维增强树脂复合材料及其制备方法，强度高。"),
    "p4": ("工业机器人减速器", "一种用于工业机器人的精密减速器，传动精度高。"),
    "p5": ("石墨烯导热膜", "石墨烯导热膜的制备方法，用于电子散热。"),
    "p6": ("动力电池热管理", "动力电池包液冷热管理系统，控制电池温度均匀。"),
    "p7": ("数控机床主轴", "数控机床电主轴的冷却结构，减少热变形。"),
    "p8": ("智能电网故障定位", "配电网故障定位方法，基于行波检测。"),
}
DEMANDS = {
    "d1": ("battery_storage", "电池隔膜耐热", "我们生产锂电池，隔膜遇热收缩，需要耐热涂层技术。"),
    "d2": ("pv", "光伏板灰尘", "电站光伏板积灰严重，想找自动清洗设备。"),
    "d3": ("battery_storage", "电池温度", "电池包温度不均匀，需要热管理方案。"),
    "d4": ("smart_equipment", "机床热变形", "机床主轴发热变形，影响加工精度。"),
}
QRELS = {"d1": {"p1": 3, "p6": 1}, "d2": {"p2": 3}, "d3": {"p6": 3, "p1": 1}, "d4": {"p7": 3, "p4": 1}}


@pytest.fixture()
def tiny_task() -> Task:
    corpus = tuple(PatentRecord(id=i, title=t, abstract=a) for i, (t, a) in DOCS.items())
    demands = tuple(DemandRecord(id=i, title=t, text=x, chain=c) for i, (c, t, x) in DEMANDS.items())
    return Task(name="tiny", description="synthetic", corpus=corpus,
                queries={d.id: d.query_text for d in demands}, qrels=QRELS,
                query_groups={d.id: (d.chain,) for d in demands}, group_kind="chain",
                demands=demands)


@pytest.fixture()
def tiny_encoder(tmp_path: Path, tiny_task: Task):
    from indexing.training.tiny_encoder import make_tiny_encoder
    from indexing.text.tokenizer import ChineseTokenizer

    tok = ChineseTokenizer()
    vocab = sorted({w for r in tiny_task.corpus for w in tok.tokenize(r.text)}
                   | {w for q in tiny_task.queries.values() for w in tok.tokenize(q)})
    return make_tiny_encoder(tmp_path / "tiny-encoder", vocab, dim=16)
