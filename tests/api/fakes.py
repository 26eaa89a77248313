"""A small in-memory engine for API tests: real records, a fake store, ranker and bundles.

The ranker scores by shared Chinese character bigrams (deterministic, no models), filters
by chain inside retrieval like the real one, and exposes the same attributes as
``matcher.results.Match``. "Bundles" are build ids named by a pointer file in the data
home, so publish/rollback/reload and the swap-under-load test exercise the real reload
path of the API.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from indexing.index.filters import Filters
from indexing.records import DemandRecord, PatentRecord
from patmatch.errors import ConflictError, NoBundleError, NotFoundError, QualityGateError

from api.engine import Engine
from api.services.contracts import ChainInfo, Snapshot

CHAINS = [ChainInfo("nev", "新能源汽车及汽车核心零部件", "New-energy vehicles"),
          ChainInfo("battery_storage", "动力电池与新型储能", "Batteries and storage"),
          ChainInfo("pv", "以太阳能光伏为代表的新能源", "Photovoltaics"),
          ChainInfo("ai", "人工智能", "AI")]


# the fake engine takes the real filter type: same fields, same validation
FakeFilters = Filters


class FakeStore:
    def __init__(self, patents: dict[str, PatentRecord], demands: dict[str, DemandRecord],
                 lock: threading.Lock) -> None:
        self.patents, self.demands, self.lock = patents, demands, lock

    def get_patent(self, id: str) -> PatentRecord | None:
        return self.patents.get(id)

    def get_demand(self, id: str) -> DemandRecord | None:
        return self.demands.get(id)

    def iter_demands(self, include_deleted: bool = False) -> Iterator[DemandRecord]:
        with self.lock:
            recs = list(self.demands.values())
        return iter([d for d in recs if include_deleted or d.status != "deleted"])

    def list_demands(self, owner: str | None = None, limit: int = 50,
                     offset: int = 0) -> list[DemandRecord]:
        recs = sorted((d for d in self.iter_demands() if owner is None or d.owner == owner),
                      key=lambda d: d.id)
        return recs[offset:offset + limit]

    def count_demands(self, owner: str | None = None) -> int:
        return sum(1 for d in self.iter_demands() if owner is None or d.owner == owner)

    def upsert_demands(self, records: Iterable[DemandRecord]) -> dict[str, int]:
        records = list(records)
        with self.lock:
            for r in records:
                self.demands[r.id] = r
        return {"accepted": len(records)}

    def insert_demand(self, record: DemandRecord) -> DemandRecord:
        with self.lock:
            if record.id in self.demands:
                raise ConflictError(f"demand '{record.id}' already exists; update it with PATCH",
                                    details={"id": record.id})
            self.demands[record.id] = record
        return record

    def change_demand(self, id: str, change: Callable[[DemandRecord], DemandRecord]
                      ) -> DemandRecord:
        with self.lock:
            if id not in self.demands:
                raise NotFoundError(f"demand '{id}' not found")
            self.demands[id] = change(self.demands[id])
            return self.demands[id]

    def update_demand(self, record: DemandRecord) -> DemandRecord:
        with self.lock:
            if record.id not in self.demands:
                raise NotFoundError(f"demand '{record.id}' not found")
            self.demands[record.id] = record
        return record

    def delete_demand(self, id: str) -> bool:
        with self.lock:
            rec = self.demands.get(id)
            if rec is None:
                return False
            self.demands[id] = dataclasses.replace(rec, status="deleted")
            return True

    def close(self) -> None:
        pass


def bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff")
    return {t[i:i + 2] for i in range(len(t) - 1)}


class FakeRanker:
    def __init__(self, build_id: str, patents: dict[str, PatentRecord],
                 patent_chains: dict[str, tuple[str, ...]], demands: dict[str, DemandRecord],
                 *, delay: float = 0.0) -> None:
        self.build_id = build_id
        self.patents, self.patent_chains = dict(patents), dict(patent_chains)
        self.demands = {k: v for k, v in demands.items() if v.status != "deleted"}
        self.delay = delay
        self.calls: list[tuple[str, Any]] = []

    def _rank(self, query: str, docs: dict[str, tuple[str, tuple[str, ...]]],
              filters: Any, limit: int, offset: int) -> SimpleNamespace:
        if self.delay:
            time.sleep(self.delay)
        q = bigrams(query)
        scored = []
        for rid, (text, chains) in docs.items():
            if filters is not None and filters.chains and not set(chains) & set(filters.chains):
                continue
            common = q & bigrams(text)
            if common:
                scored.append((len(common) / (len(q) or 1), rid, sorted(common), chains,
                               text[:20]))
        scored.sort(key=lambda s: (-s[0], s[1]))
        items = [SimpleNamespace(
            record_id=rid, rank=offset + i + 1, score=round(sc, 6), lexical_score=sc * 10,
            semantic_score=sc, lexical_rank=offset + i + 1, semantic_rank=None, chains=chains,
            matched_terms=terms[:5], highlights=[{"field": "title", "start": 0, "end": 2}],
            shared_labels={"chains": list(chains)}, reason="命中：" + "、".join(terms[:3]),
            title=title) for i, (sc, rid, terms, chains, title) in
            enumerate(scored[offset:offset + limit])]
        return SimpleNamespace(total=len(scored), items=items)

    def _patent_docs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {p.id: (p.text, self.patent_chains.get(p.id, ())) for p in self.patents.values()}

    def match_text(self, text: str, *, filters: Any = None, limit: int = 10, offset: int = 0,
                   fusion: Any = None) -> SimpleNamespace:
        self.calls.append(("text", filters))
        return self._rank(text, self._patent_docs(), filters, limit, offset)

    def match_demand(self, demand_id: str, *, filters: Any = None, limit: int = 10,
                     offset: int = 0, fusion: Any = None) -> SimpleNamespace:
        self.calls.append(("demand", filters))
        if demand_id not in self.demands:
            raise NotFoundError(f"demand '{demand_id}' is not in bundle {self.build_id}")
        return self._rank(self.demands[demand_id].query_text, self._patent_docs(), filters,
                          limit, offset)

    def match_patent(self, patent_id: str, *, filters: Any = None, limit: int = 10,
                     offset: int = 0, fusion: Any = None) -> SimpleNamespace:
        self.calls.append(("patent", filters))
        if patent_id not in self.patents:
            raise NotFoundError(f"patent '{patent_id}' not found in bundle {self.build_id}")
        docs = {d.id: (d.query_text, (d.chain,) if d.chain else ())
                for d in self.demands.values()}
        return self._rank(self.patents[patent_id].text, docs, filters, limit, offset)

    def chain_pairs(self, chain: str, *, limit: int = 20, offset: int = 0) -> SimpleNamespace:
        pairs = []
        for d in sorted(self.demands.values(), key=lambda d: d.id):
            if d.chain != chain:
                continue
            best = self._rank(d.query_text, self._patent_docs(), FakeFilters(chains=(chain,)),
                              1, 0).items
            if best:
                pairs.append(SimpleNamespace(demand_id=d.id, patent_id=best[0].record_id,
                                             score=best[0].score, demand_title=d.title,
                                             patent_title=best[0].title, reason=best[0].reason))
        pairs.sort(key=lambda p: (-p.score, p.demand_id))
        return SimpleNamespace(total=len(pairs), items=pairs[offset:offset + limit])


class FakeEngine(Engine):
    """Engine over in-memory records; bundles are build ids named in ``<home>/CURRENT``."""

    def __init__(self, settings: Any, patents: list[PatentRecord],
                 patent_chains: dict[str, tuple[str, ...]], demands: list[DemandRecord],
                 *, load_delay: float = 0.0, query_delay: float = 0.0) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self.patents = {p.id: p for p in patents}
        self.patent_chains = patent_chains
        self.demands = {d.id: d for d in demands}
        self.load_delay, self.query_delay = load_delay, query_delay
        self.pointer = Path(settings.home) / "CURRENT"
        self.history: list[str] = []
        self.gate_refuses: set[str] = set()
        self.batch_fn: Callable[..., int] | None = None

    def open_store(self) -> FakeStore:
        return FakeStore(self.patents, self.demands, self._lock)

    def locate_current(self) -> Path:
        if not self.pointer.exists():
            raise NoBundleError("no bundle published yet")
        return Path(self.settings.home) / "bundles" / self.pointer.read_text().strip()

    def load_snapshot(self, path: Path) -> Snapshot:
        if self.load_delay:
            time.sleep(self.load_delay)
        ranker = FakeRanker(path.name, self.patents, self.patent_chains, self.demands,
                            delay=self.query_delay)
        from indexing.index.manifest import FORMAT_VERSION, BundleManifest

        # the real manifest type, so the fake cannot drift from what a build writes
        manifest = BundleManifest(
            format_version=FORMAT_VERSION, build_id=path.name,
            created_at="2026-11-24T00:00:00+00:00",
            counts={"patents": {"total": len(self.patents),
                                "per_chain": {"nev": 3, "battery_storage": 3}},
                    "demands": {"total": len(self.demands)}},
            tokenizer={"fingerprint": "fake-tok"}, encoder={"fingerprint": "fake-enc"})
        return Snapshot(build_id=path.name, path=path, ranker=ranker, bundle=None,
                        manifest=manifest.to_dict())

    def chains(self) -> list[ChainInfo]:
        return CHAINS

    def make_filters(self, **kwargs: Any) -> FakeFilters:
        return FakeFilters(**kwargs)

    def make_fusion(self, overrides: dict[str, Any] | None) -> Any:
        return dict(overrides) if overrides else None

    def mask_demand(self, rec: DemandRecord) -> DemandRecord:
        try:
            return super().mask_demand(rec)
        except ImportError:  # indexing.privacy not written yet: same rules, minimal version
            def m(s: str | None, keep: int) -> str | None:
                return None if s is None else s[:keep] + "*" * max(len(s) - keep, 1)
            email = rec.contact_email
            if email and "@" in email:
                user, dom = email.split("@", 1)
                email = f"{user[:1]}***@{dom}"
            return dataclasses.replace(rec, contact_name=m(rec.contact_name, 1),
                                       contact_phone=m(rec.contact_phone, 3), contact_email=email)

    def publish_build(self, build_id: str) -> None:
        """Point CURRENT at ``build_id`` atomically (what indexing.build.publish does)."""
        tmp = self.pointer.with_suffix(".tmp")
        tmp.write_text(build_id)
        tmp.replace(self.pointer)
        self.history.append(build_id)

    def run_batch(self, input_path: Path, output_path: Path, *, top_k: int,
                  chains: tuple[str, ...], direction: str,
                  progress: Callable[[float], None]) -> int:
        if self.batch_fn is not None:
            return self.batch_fn(input_path, output_path, top_k=top_k, chains=chains)
        lines = [ln for ln in input_path.read_text(encoding="utf-8").splitlines()[1:] if ln]
        snap = self.snapshot()
        out = ["demand_id,rank,patent_id,score"]
        for i, line in enumerate(lines):
            did, text = line.split(",", 1)
            res = snap.ranker.match_text(text, filters=FakeFilters(chains=chains), limit=top_k)
            out += [f"{did},{m.rank},{m.record_id},{m.score}" for m in res.items]
            progress((i + 1) / len(lines))
        output_path.write_text("\n".join(out) + "\n", encoding="utf-8")
        return len(out) - 1

    def rebuild(self) -> str:
        return f"build-{len(self.history) + 1:03d}"

    def publish(self, build_id: str | None, *, force: bool) -> str:
        build_id = build_id or f"build-{len(self.history) + 1:03d}"
        if build_id in self.gate_refuses and not force:
            raise QualityGateError(f"nDCG@10 dropped below the gate for {build_id}",
                                   details={"build_id": build_id})
        self.publish_build(build_id)
        return build_id

    def rollback(self) -> str:
        if len(self.history) < 2:
            raise ConflictError("no previous bundle to roll back to")
        self.history.pop()
        prev = self.history[-1]
        self.publish_build(prev)
        self.history.pop()
        return prev
