"""PushStore: the repository over the ``push_*`` tables (indexing/store/tables_push.py).

Works on any SQLAlchemy engine from ``create_db_engine`` (SQLite or PostgreSQL). The
guarantees that matter are kept by the database, not by a process-wide lock:

- a (subscription, patent) pair is inserted at most once (unique constraint, insert
  ignoring conflicts), so concurrent digest runs cannot push a pair twice;
- deliveries are claimed by a conditional UPDATE before sending, so two senders never send
  the same row at once (a claim older than ``STALE_CLAIM`` is taken over: its sender died);
- a feedback change is a conditional UPDATE on ``version``: a concurrent change makes it
  retry against the new state, so every transition is checked against what was current.
"""

from __future__ import annotations

import datetime as _dt
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from indexing.store import tables_push as T
from indexing.store.database import write_transaction
from patmatch.errors import ConflictError, NotFoundError

from api.push.feedback import Outcome, check_outcome, check_transition, same_outcome
from api.push.records import Delivery, FeedbackResult, Item, delivery_from_row, iso, now_utc
from api.push.subscriptions import Owner, Subscription, SubscriptionSpec

STALE_CLAIM = _dt.timedelta(minutes=10)


class PushStore:
    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self.engine = engine
        if create:
            T.create_push_tables(engine)

    # --- subscriptions ----------------------------------------------------------------
    def create_subscription(self, spec: SubscriptionSpec, owner: Owner, *,
                            now: _dt.datetime | None = None) -> Subscription:
        """Store a checked spec (see ``subscriptions.check_spec``); a webhook gets a secret."""
        t = iso(now or now_utc())
        sid = f"S-{secrets.token_hex(6)}"
        secret = secrets.token_urlsafe(32) if spec.channel["type"] == "webhook" else None
        row = {"id": sid, "name": spec.name, "owner_key_id": owner.key_id,
               "owner_role": owner.role, "owner_centre": owner.centre,
               "owner_chains": json.dumps(list(owner.chains)), "demand_id": spec.demand_id,
               "text": spec.text, "filters": json.dumps(spec.filters, ensure_ascii=False),
               "top_n": spec.top_n, "min_score": spec.min_score, "schedule": spec.schedule,
               "channel_type": spec.channel["type"],
               "channel": json.dumps(spec.channel, ensure_ascii=False), "secret": secret,
               "status": "active", "created_at": t, "updated_at": t}
        with write_transaction(self.engine) as conn:
            conn.execute(insert(T.subscriptions).values(**row))
        return self.get_subscription(sid)  # type: ignore[return-value]

    def get_subscription(self, sid: str) -> Subscription | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(T.subscriptions).where(T.subscriptions.c.id == sid)
                             ).mappings().first()
        return _subscription(r) if r is not None and r["status"] != "deleted" else None

    def list_subscriptions(self, *, owner_centre: str | None = None,
                           owner_key_id: str | None = None, status: str | None = None
                           ) -> list[Subscription]:
        s = T.subscriptions
        q = select(s).where(s.c.status != "deleted")
        if owner_centre is not None:
            q = q.where(s.c.owner_centre == owner_centre)
        if owner_key_id is not None:
            q = q.where(s.c.owner_key_id == owner_key_id)
        if status is not None:
            q = q.where(s.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(s.c.created_at, s.c.id)).mappings().all()
        return [_subscription(r) for r in rows]

    def update_subscription(self, sid: str, changes: dict[str, Any]) -> Subscription:
        """Change stored fields (already checked by the caller); ``status`` included."""
        allowed = {"name", "filters", "top_n", "min_score", "schedule", "channel", "status",
                   "text"}
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"not changeable: {sorted(bad)}")
        values: dict[str, Any] = {}
        for k, v in changes.items():
            if k in ("filters", "channel"):
                values[k] = json.dumps(v, ensure_ascii=False)
                if k == "channel":
                    values["channel_type"] = v["type"]
            else:
                values[k] = v
        values["updated_at"] = iso(now_utc())
        s = T.subscriptions
        with write_transaction(self.engine) as conn:
            res = conn.execute(update(s).where(s.c.id == sid, s.c.status != "deleted")
                               .values(**values))
            if "channel" in changes and changes["channel"]["type"] == "webhook":
                cur = conn.execute(select(s.c.secret).where(s.c.id == sid)).scalar()
                if not cur:
                    conn.execute(update(s).where(s.c.id == sid)
                                 .values(secret=secrets.token_urlsafe(32)))
        if res.rowcount == 0:
            raise NotFoundError(f"subscription '{sid}' not found", details={"id": sid})
        return self.get_subscription(sid)  # type: ignore[return-value]

    def mark_run(self, sid: str, build_id: str | None, when: _dt.datetime) -> None:
        s = T.subscriptions
        with write_transaction(self.engine) as conn:
            conn.execute(update(s).where(s.c.id == sid)
                         .values(last_run_at=iso(when), last_build=build_id))

    # --- deliveries -------------------------------------------------------------------
    def delivered_patents(self, subscription_id: str) -> set[str]:
        """Patents this subscription got (in any status): never selected for it again."""
        d = T.deliveries
        with self.engine.connect() as conn:
            return set(conn.execute(select(d.c.patent_id).where(
                d.c.subscription_id == subscription_id)).scalars())

    def excluded_patents(self, sub: Subscription) -> set[str]:
        """Patents this subscription must never get again: already delivered (any status),
        or rejected as 不相关 for its subject."""
        return self.delivered_patents(sub.id) | self.rejected_irrelevant(sub.subject)

    def rejected_irrelevant(self, subject: str) -> set[str]:
        f = T.feedback
        with self.engine.connect() as conn:
            return set(conn.execute(select(f.c.patent_id).where(
                f.c.subject == subject, f.c.state == "rejected", f.c.reason == "不相关")
            ).scalars())

    def enqueue(self, sub: Subscription, build_id: str, items: Sequence[Item], *,
                now: _dt.datetime | None = None) -> int:
        """Queue the items for sending; pairs already delivered are skipped. Returns how
        many were new."""
        t = iso(now or now_utc())
        n = 0
        with write_transaction(self.engine) as conn:
            for it in items:
                row = {"subscription_id": sub.id, "owner_centre": sub.owner_centre,
                       "demand_id": sub.demand_id, "patent_id": it.patent_id,
                       "bundle": build_id, "channel": sub.channel_type, "rank": it.rank,
                       "score": float(it.score), "title": it.title, "reason": it.reason,
                       "matched_terms": json.dumps(list(it.matched_terms), ensure_ascii=False),
                       "chains": json.dumps(list(it.chains)), "status": "queued",
                       "attempts": 0, "next_attempt_at": t, "created_at": t, "updated_at": t}
                n += _insert_ignore(conn, T.deliveries, row, ("subscription_id", "patent_id"))
        return n

    def claim_due(self, worker: str, *, now: _dt.datetime | None = None,
                  subscription_ids: Iterable[str] | None = None, limit: int = 10_000
                  ) -> list[Delivery]:
        """Take the deliveries due for (re)sending; they stay ``sending`` until marked."""
        now = now or now_utc()
        d = T.deliveries
        due = or_(and_(d.c.status.in_(("queued", "failed")), d.c.next_attempt_at <= iso(now)),
                  and_(d.c.status == "sending", d.c.updated_at < iso(now - STALE_CLAIM)))
        ids_q = select(d.c.id).where(due)
        if subscription_ids is not None:
            ids_q = ids_q.where(d.c.subscription_id.in_(list(subscription_ids)))
        ids_q = ids_q.order_by(d.c.id).limit(limit)
        with write_transaction(self.engine) as conn:
            ids = list(conn.execute(ids_q).scalars())
            if not ids:
                return []
            conn.execute(update(d).where(d.c.id.in_(ids), due)
                         .values(status="sending", claimed_by=worker, updated_at=iso(now)))
            rows = conn.execute(select(d).where(d.c.id.in_(ids), d.c.claimed_by == worker,
                                                d.c.status == "sending").order_by(d.c.id)
                                ).mappings().all()
        return [delivery_from_row(r) for r in rows]

    def mark_sent(self, ids: Sequence[int], *, now: _dt.datetime | None = None) -> None:
        t = iso(now or now_utc())
        d = T.deliveries
        if not ids:
            return
        with write_transaction(self.engine) as conn:  # one digest: two statements, not three per item
            conn.execute(update(d).where(d.c.id.in_(list(ids))).values(
                status="sent", attempts=d.c.attempts + 1, sent_at=t, updated_at=t,
                last_error=None, claimed_by=None))
            rows = conn.execute(select(d.c.id, d.c.attempts).where(d.c.id.in_(list(ids)))).all()
            conn.execute(insert(T.attempts), [
                {"delivery_id": did, "attempt": n, "ok": True, "status_after": "sent", "ts": t,
                 "error": None} for did, n in rows])

    def mark_failed(self, ids: Sequence[int], error: str, *, max_attempts: int,
                    backoff_seconds: float, now: _dt.datetime | None = None) -> str:
        """Record a failed attempt; ``dead`` after ``max_attempts``. Returns the status."""
        now = now or now_utc()
        t = iso(now)
        d = T.deliveries
        status = "failed"
        with write_transaction(self.engine) as conn:
            for did in ids:
                n = conn.execute(select(d.c.attempts).where(d.c.id == did)).scalar_one() + 1
                status = "dead" if n >= max_attempts else "failed"
                wait = min(backoff_seconds * 2 ** (n - 1), 6 * 3600.0)
                conn.execute(update(d).where(d.c.id == did).values(
                    status=status, attempts=n, updated_at=t, last_error=error[:2000],
                    next_attempt_at=iso(now + _dt.timedelta(seconds=wait)), claimed_by=None))
                conn.execute(insert(T.attempts).values(delivery_id=did, attempt=n, ok=False,
                                                       status_after=status, error=error[:2000],
                                                       ts=t))
        return status

    def requeue_dead(self, subscription_id: str) -> int:
        """Give dead deliveries of a subscription another round (after fixing its endpoint)."""
        d = T.deliveries
        with write_transaction(self.engine) as conn:
            return conn.execute(update(d).where(d.c.subscription_id == subscription_id,
                                                d.c.status == "dead")
                                .values(status="failed", attempts=0,
                                        next_attempt_at=iso(now_utc()))).rowcount

    def get_delivery(self, did: int) -> Delivery | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(T.deliveries).where(T.deliveries.c.id == did)
                             ).mappings().first()
        return delivery_from_row(r) if r is not None else None

    def list_deliveries(self, subscription_id: str, *, limit: int = 100, offset: int = 0
                        ) -> tuple[int, list[Delivery]]:
        d = T.deliveries
        where = d.c.subscription_id == subscription_id
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(d).where(where)).scalar_one()
            rows = conn.execute(select(d).where(where).order_by(d.c.id.desc())
                                .limit(limit).offset(offset)).mappings().all()
        return int(total), [delivery_from_row(r) for r in rows]

    # --- feedback ---------------------------------------------------------------------
    def record_feedback(self, *, subject: str, patent_id: str, outcome: Outcome,
                        actor: Owner | None, source: str, demand_id: str | None = None,
                        subscription_id: str | None = None, owner_centre: str | None = None,
                        now: _dt.datetime | None = None) -> FeedbackResult:
        """Apply one outcome atomically; 409 (ConflictError) for a transition not allowed."""
        o = check_outcome(outcome)
        f, ev = T.feedback, T.feedback_events
        for _ in range(8):
            t = iso(now or now_utc())
            try:
                with write_transaction(self.engine) as conn:
                    cur = conn.execute(select(f).where(f.c.subject == subject,
                                                       f.c.patent_id == patent_id)
                                       ).mappings().first()
                    if cur is not None and same_outcome(dict(cur), o):
                        return FeedbackResult(dict(cur), False)
                    check_transition(cur["state"] if cur else None, o)
                    values = {"state": o.status, "reason": o.reason, "note": o.note,
                              "deal_type": o.deal_type, "amount_wan": o.amount_wan,
                              "deal_date": o.date, "updated_at": t,
                              "updated_by": actor.name or actor.key_id if actor else None}
                    if cur is None:
                        fid = conn.execute(insert(f).values(
                            subject=subject, patent_id=patent_id, demand_id=demand_id,
                            subscription_id=subscription_id, owner_centre=owner_centre,
                            version=1, created_at=t, **values)).inserted_primary_key[0]
                        before = None
                    else:
                        res = conn.execute(update(f).where(f.c.id == cur["id"],
                                                           f.c.version == cur["version"])
                                           .values(version=cur["version"] + 1, **values))
                        if res.rowcount != 1:
                            raise _Raced()
                        fid, before = cur["id"], cur["state"]
                    conn.execute(insert(ev).values(
                        feedback_id=fid, subject=subject, patent_id=patent_id,
                        demand_id=demand_id, subscription_id=subscription_id,
                        from_state=before, to_state=o.status, reason=o.reason, note=o.note,
                        deal_type=o.deal_type, amount_wan=o.amount_wan, deal_date=o.date,
                        reopen=bool(o.reopen and before in ("deal", "rejected")),
                        actor=actor.name or actor.key_id if actor else None,
                        actor_role=actor.role if actor else None,
                        actor_centre=actor.centre if actor else None, source=source, ts=t))
                    state = conn.execute(select(f).where(f.c.id == fid)).mappings().one()
                return FeedbackResult(dict(state), True)
            except (_Raced, IntegrityError):
                continue  # someone changed the pair meanwhile: check against the new state
        raise ConflictError("该条目正被同时修改，请重试 (the pair is being changed concurrently; "
                            "retry)", details={"subject": subject, "patent_id": patent_id})

    def feedback_states(self, subject: str) -> list[dict[str, Any]]:
        f = T.feedback
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(f).where(f.c.subject == subject).order_by(f.c.updated_at.desc(), f.c.id)
            ).mappings()]

    def feedback_history(self, subject: str, patent_id: str | None = None
                         ) -> list[dict[str, Any]]:
        ev = T.feedback_events
        q = select(ev).where(ev.c.subject == subject)
        if patent_id is not None:
            q = q.where(ev.c.patent_id == patent_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(ev.c.id)).mappings()]


class _Raced(Exception):
    pass


def _insert_ignore(conn: Connection, table: Any, row: dict[str, Any],
                   keys: tuple[str, ...]) -> int:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover - only the two shipped backends
        raise NotImplementedError(name)
    # RETURNING tells inserted from skipped on both backends (rowcount is -1 on psycopg
    # when SQLAlchemy adds its own RETURNING for the primary key)
    stmt = (dialect_insert(table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
            .returning(table.c.id))
    return len(conn.execute(stmt).all())


def _subscription(r: Any) -> Subscription:
    return Subscription(
        id=r["id"], name=r["name"] or "", owner_key_id=r["owner_key_id"],
        owner_role=r["owner_role"], owner_centre=r["owner_centre"],
        owner_chains=tuple(json.loads(r["owner_chains"] or "[]")), demand_id=r["demand_id"],
        text=r["text"], filters=json.loads(r["filters"] or "{}"), top_n=int(r["top_n"]),
        min_score=float(r["min_score"]), schedule=r["schedule"],
        channel_type=r["channel_type"], channel=json.loads(r["channel"] or "{}"),
        status=r["status"], created_at=r["created_at"], updated_at=r["updated_at"],
        last_run_at=r["last_run_at"], last_build=r["last_build"], secret=r["secret"])


def open_push_store(settings: Any) -> PushStore:
    """The push repository on the deployment's one database (PATMATCH_DATABASE_URL)."""
    from indexing.store.database import create_db_engine, database_url

    return PushStore(create_db_engine(database_url(settings)))


__all__ = ["Delivery", "FeedbackResult", "Item", "PushStore", "iso", "now_utc",
           "open_push_store"]
