"""Small deterministic stand-ins for the bundle tests (issue 4): records, tokenizer,
encoder, labeler and store. Also runnable as a script by the crash tests:
``python -m tests.indexing._bundle_fakes build|publish|nightly HOME``."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from indexing.records import DemandRecord, PatentRecord

CHAINS = ("nev", "battery_storage", "pv", "ai", "biomedicine", "smart_sensing")
TOPICS = {
    "nev": "电动 汽车 电机 控制器 驱动 底盘",
    "battery_storage": "锂 电池 正极 材料 储能 电解液",
    "pv": "光伏 组件 硅片 逆变器 太阳能 电池片",
    "ai": "神经网络 图像 识别 模型 训练 推理",
    "biomedicine": "抗体 药物 基因 检测 医疗 器械",
    "smart_sensing": "传感器 物联网 温度 压力 无线 采集",
}
REGIONS = ("广东省深圳市", "广东省广州市", "江苏省南京市", "浙江省杭州市")
TYPES = ("university", "institute", "soe", "enterprise")


class FakeTokenizer:
    fingerprint = "tok-fake-1"
    config = None

    def tokenize(self, text: str) -> list[str]:
        return [t for t in text.replace("。", " ").replace("，", " ").split() if t]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


class FakeEncoder:
    """Hashed bag of words/characters -> L2-normalised vectors."""

    def __init__(self, dimension: int = 32, fingerprint: str = "enc-fake-1") -> None:
        self.dimension = dimension
        self.fingerprint = fingerprint
        self.calls = 0
        self.encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for piece in text.split() + list(text.replace(" ", "")):
            h = int(hashlib.md5(piece.encode()).hexdigest()[:8], 16)
            v[h % self.dimension] += 1.0 if (h >> 8) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 256,
                         show_progress: bool = False) -> np.ndarray:
        if os.environ.get("FAKE_ENCODER_SLEEP"):  # lets a test hold the nightly lock
            time.sleep(float(os.environ["FAKE_ENCODER_SLEEP"]))
        self.calls += 1
        self.encoded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros(
            (0, self.dimension), dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


@dataclass
class FakeLabels:
    record_id: str
    chains: tuple[str, ...]
    problem: str
    grade: str
    trl: int

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "chains": list(self.chains),
                "problem": self.problem, "grade": self.grade, "trl": self.trl}


class FakeLabeler:
    version = "fake-labeler-1"

    def _label(self, rid: str, text: str) -> FakeLabels:
        chains = tuple(c for c, words in TOPICS.items() if words.split()[0] in text)
        h = int(hashlib.md5(rid.encode()).hexdigest()[:4], 16)
        return FakeLabels(rid, chains, text[:12], "ABC"[h % 3], 1 + h % 9)

    def label_patents(self, records: Sequence[Any]) -> list[FakeLabels]:
        return [self._label(r.id, r.text) for r in records]

    def label_demands(self, records: Sequence[Any]) -> list[FakeLabels]:
        return [self._label(r.id, r.query_text) for r in records]


def make_records(n_patents: int = 120, n_demands: int = 40, seed: int = 0,
                 ) -> tuple[list[PatentRecord], list[DemandRecord]]:
    rng = random.Random(seed)
    pats, dems = [], []
    for i in range(n_patents):
        chain = CHAINS[i % len(CHAINS)]
        words = TOPICS[chain].split()
        body = " ".join(rng.choice(words) for _ in range(12))
        pats.append(PatentRecord(
            id=f"CN{100000 + i}A", title=f"{words[0]} {rng.choice(words)} 装置 {i}",
            abstract=body, claims=f"1. 一种 {words[0]} {rng.choice(words)} 方法。",
            ipc=(("H01M10/0525",) if chain == "battery_storage" else ("G06N3/08",)),
            applicant=f"某大学{i % 7}", applicant_type=TYPES[i % len(TYPES)],
            legal_status="有效", application_date=f"20{10 + i % 14:02d}-0{1 + i % 9}-15",
            region=REGIONS[i % len(REGIONS)], open_license=(i % 5 == 0),
            inventors=("张三",)))
    for j in range(n_demands):
        chain = CHAINS[j % len(CHAINS)]
        words = TOPICS[chain].split()
        dems.append(DemandRecord(
            id=f"D{j:05d}", title=f"需求 {words[0]} {rng.choice(words)}",
            text=" ".join(rng.choice(words) for _ in range(10)), enterprise=f"某公司{j}",
            region=REGIONS[j % len(REGIONS)], confidential=(j % 4 == 0),
            owner=f"centre{j % 3}", contact_name="李四", contact_phone="13800138000",
            contact_email="li@example.com", deadline=None if j % 3 else "2027-01-01"))
    return pats, dems


@dataclass
class FakeStore:
    patents: list[PatentRecord] = field(default_factory=list)
    demands: list[DemandRecord] = field(default_factory=list)
    labels: dict[str, dict[str, dict]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    # in id order, like the real store (Store.iter_patents: a build streams them)
    def iter_patents(self) -> Iterator[PatentRecord]:
        return iter(sorted(self.patents, key=lambda r: r.id))

    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]:
        return iter(sorted((d for d in self.demands if include_deleted or d.status != "deleted"),
                           key=lambda r: r.id))

    def load_labels(self, side: str) -> dict[str, dict]:
        return dict(self.labels.get(side, {}))

    def iter_labels(self, side: str) -> Iterator[tuple[str, dict]]:
        return iter(sorted(self.labels.get(side, {}).items()))

    def save_labels(self, side: str, labels: dict[str, dict], version: str) -> None:
        self.labels[side] = dict(labels)  # replaces the side's set, like SQLiteStore
        self.versions[side] = version

    def update_labels(self, side: str, labels: dict[str, dict], version: str, *,
                      drop: Iterable[str] = (), reset: bool = False) -> None:
        have = {} if reset else dict(self.labels.get(side, {}))
        for rid in drop:
            have.pop(rid, None)
        self.save_labels(side, {**have, **labels}, version)

    def labels_version(self, side: str) -> str | None:
        return self.versions.get(side)

    def close(self) -> None:
        pass


def lapse(p: PatentRecord) -> PatentRecord:
    return replace(p, legal_status="失效")


CRASH_ENV = "PATMATCH_TEST_CRASH_AT"


def arm_crash(stage: str | None) -> None:
    """SIGKILL this process right after build stage ``stage`` ends, or, for ``"publish"``,
    after the bundle moved in and before the pointer names it. Done by wrapping the real
    steps, so production code carries no test hook."""
    if not stage:
        return
    import contextlib
    import signal

    from indexing.build import publish as publish_module
    from indexing.build.stage_timer import StageTimer

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if stage == "publish":
        write_pointer = publish_module._write_pointer

        def pointer_then_die(*args: object, **kw: object) -> None:
            die()
            write_pointer(*args, **kw)

        publish_module._write_pointer = pointer_then_die
        return
    timed_stage = StageTimer.stage

    @contextlib.contextmanager
    def stage_then_die(self: StageTimer, name: str):  # noqa: ANN202
        with timed_stage(self, name):
            yield
        if name == stage:
            die()

    StageTimer.stage = stage_then_die  # type: ignore[method-assign]


def _main(argv: list[str]) -> int:  # subprocess entry point of the crash tests
    from indexing.build.build_config import BuildConfig
    from indexing.build.pipeline import build
    from indexing.build.nightly import run_nightly
    from indexing.build.publish import publish
    from patmatch.settings import get_settings

    action, n = argv[0], int(argv[1]) if len(argv) > 1 else 200
    seed = int(argv[2]) if len(argv) > 2 else 0
    settings = get_settings()
    arm_crash(os.environ.get(CRASH_ENV))
    if action == "nightly":  # against the real store in PATMATCH_HOME
        st = run_nightly(settings, tokenizer=FakeTokenizer(), encoder=FakeEncoder(),
                         labeler=FakeLabeler(), wait="--wait" in argv, force_build=True)
        print(json.dumps(st.to_dict()))
        return st.exit_code
    pats, dems = make_records(n, n // 4, seed=seed)
    bid = build(FakeStore(pats, dems), settings, BuildConfig(), tokenizer=FakeTokenizer(),
                encoder=FakeEncoder(), labeler=FakeLabeler())
    if action == "build+publish":
        publish(settings, bid, force=True)
    print(json.dumps({"build_id": bid}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
