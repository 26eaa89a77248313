"""Two API workers writing demands and feedback while the nightly job ingests and builds
(issue 14): the scenario, and what must hold afterwards on either backend.

A "worker" is anything that answers ``call(method, path, json) -> (status, body)``: an
in-process app (one ``create_app`` each, both on the same database) or a process of
``patmatch serve --workers 2`` reached over HTTP. :func:`run` drives both workers from
several threads at once, and :func:`check` reads the database directly afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from indexing.records import DemandRecord, PatentRecord

Call = Callable[[str, str, dict | None], tuple[int, Any]]

PATENTS = [PatentRecord(id=f"P-CC-{i:02d}", title=f"一种电池热管理装置{i}",
                        abstract=f"本发明公开了一种电池热管理装置（第{i}种），降低温差。")
           for i in range(8)]
SHARED = "D-CC-SHARED"        # patched by both workers at once, each its own field
FEEDBACK = "D-CC-FB"          # its (demand, patent) pairs race from "negotiating"
SEED_DEMANDS = [DemandRecord(id=SHARED, text="电池包温差大，需要热管理方案", title="热管理需求",
                             enterprise="常州某科技有限公司"),
                DemandRecord(id=FEEDBACK, text="锂电池低温续航差，需要热管理", title="反馈")]
SAME_IDS = [f"D-CC-SAME-{i:02d}" for i in range(6)]  # both workers create each one


@dataclass
class Outcome:
    created: dict[int, list[str]] = field(default_factory=lambda: {0: [], 1: []})
    same_id: dict[str, list[int]] = field(default_factory=dict)
    last_patch: dict[str, str] = field(default_factory=dict)
    races: dict[str, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bad(self, what: str, status: int, body: Any) -> None:
        with self.lock:
            self.errors.append(f"{what}: {status} {str(body)[:300]}")


def seed(store: Any) -> None:
    store.upsert_patents(PATENTS)
    store.upsert_demands(SEED_DEMANDS)


def run(workers: list[Call], *, rounds: int = 6, nightly: Callable[[], Any] | None = None
        ) -> tuple[Outcome, Any]:
    """Both workers at once, from 3 threads each, while ``nightly`` runs on another thread:
    new demands (ids assigned), the same ids created by both, PATCHes of one demand (each
    worker its own field, ``rounds`` times), feedback pairs moved from ``negotiating`` to
    ``deal`` by one worker and to ``rejected`` by the other at the same moment."""
    assert len(workers) == 2
    out = Outcome()
    for p in PATENTS:  # every pair starts at "negotiating" (set through worker 0)
        status, body = workers[0]("POST", "/v1/feedback", {
            "demand_id": FEEDBACK, "patent_id": p.id, "status": "negotiating"})
        assert status == 200, body
    barrier = threading.Barrier(2)
    fields = ("title", "enterprise")

    def creator(w: int) -> None:
        for i in range(rounds):
            status, body = workers[w]("POST", "/v1/demands", {
                "text": f"工人{w}第{i}条需求：电池低温放电性能差", "title": f"w{w}-{i}"})
            if status != 201:
                out.bad(f"create by worker {w}", status, body)
                continue
            with out.lock:
                out.created[w].append(body["id"])
        for sid in SAME_IDS:
            status, body = workers[w]("POST", "/v1/demands", {"id": sid, "text": f"同号需求{w}"})
            if status not in (201, 409):
                out.bad(f"create {sid} by worker {w}", status, body)
            with out.lock:
                out.same_id.setdefault(sid, []).append(status)

    def patcher(w: int) -> None:
        name = fields[w]
        for i in range(rounds):
            value = f"{'需求标题' if w == 0 else '常州企业'}（工人{w}第{i}次）"
            status, body = workers[w]("PATCH", f"/v1/demands/{SHARED}", {name: value})
            if status != 200:
                out.bad(f"patch {name} by worker {w}", status, body)
                continue
            with out.lock:
                out.last_patch[name] = value

    def racer(w: int) -> None:
        outcome = ({"status": "deal", "deal_type": "转让"} if w == 0
                   else {"status": "rejected", "reason": "价格不合适"})
        for p in PATENTS:
            barrier.wait(timeout=60)
            status, body = workers[w]("POST", "/v1/feedback", {
                "demand_id": FEEDBACK, "patent_id": p.id, **outcome})
            if status not in (200, 409):
                out.bad(f"feedback {p.id} by worker {w}", status, body)
            with out.lock:
                out.races.setdefault(p.id, []).append(status)

    night: Any = None
    with ThreadPoolExecutor(max_workers=7) as pool:
        fut_night = pool.submit(nightly) if nightly is not None else None
        futs = [pool.submit(fn, w) for w in (0, 1) for fn in (creator, patcher, racer)]
        for f in futs:
            f.result(timeout=300)
        if fut_night is not None:
            night = fut_night.result(timeout=300)
    return out, night


def check(out: Outcome, engine: sa.Engine, store: Any) -> None:
    """What must hold afterwards, read from the database itself."""
    from indexing.store.tables_api import audit_log
    from indexing.store.tables_push import feedback, feedback_events
    from indexing.store.tables_records import demands

    assert not out.errors, out.errors
    created = out.created[0] + out.created[1]
    assert len(created) == len(set(created)), "a demand id was handed out twice"
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(demands.c.id)).scalars())
        # no lost insert: every 201 is a row; no duplicate id: every row is one id
        assert set(created) <= ids
        assert len(ids) == len(SEED_DEMANDS) + len(created) + len(SAME_IDS)
        # the same id created by both workers: exactly one 201, the other 409
        for sid, statuses in out.same_id.items():
            assert sorted(statuses) == [201, 409], (sid, statuses)
        # no lost update: each worker's last PATCH of its own field is there
        rec = store.get_demand(SHARED)
        assert (rec.title, rec.enterprise) == (out.last_patch["title"],
                                               out.last_patch["enterprise"]), rec
        # feedback: of two transitions from the same state exactly one wins, and the
        # history holds exactly one event out of "negotiating" for each pair
        for pid, statuses in out.races.items():
            assert sorted(statuses) == [200, 409], (pid, statuses)
        states = dict(conn.execute(sa.select(feedback.c.patent_id, feedback.c.state)
                                   .where(feedback.c.subject == FEEDBACK)).all())
        assert set(states) == {p.id for p in PATENTS}
        assert set(states.values()) <= {"deal", "rejected"}
        moves = conn.execute(sa.select(feedback_events.c.patent_id, sa.func.count())
                             .where(feedback_events.c.subject == FEEDBACK,
                                    feedback_events.c.from_state == "negotiating")
                             .group_by(feedback_events.c.patent_id)).all()
        assert dict(moves) == {p.id: 1 for p in PATENTS}
        versions = conn.execute(sa.select(feedback.c.version)
                                .where(feedback.c.subject == FEEDBACK)).scalars().all()
        assert set(versions) == {2}  # created at negotiating (1), one change (2)
        # the audit log: one entry per created demand, sequence numbers unique
        n_create = conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                .where(audit_log.c.action == "demands.create")).scalar()
        assert n_create == len(created) + len(SAME_IDS)
        seqs = conn.execute(sa.select(audit_log.c.seq)).scalars().all()
        assert len(seqs) == len(set(seqs))
    # ... and it is still append-only after all that traffic
    for stmt in (audit_log.update().values(status=599), audit_log.delete()):
        try:
            with engine.begin() as conn:
                conn.execute(stmt)
        except sa.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"audit_log accepted {stmt}")
