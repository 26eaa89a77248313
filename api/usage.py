"""Service statistics from the API's tables (keys, audit log) for a reporting period: who
was served, how many match results they viewed, and the access-control facts a security
review asks for. These are the 服务 and 数据安全 sections of ``patmatch report``.

A *view* is one match result shown to a caller through an audited, successful request: a
patent listed for a demand (``match.demand``), a supply-demand pair of a chain
(``chains.pairs``), or a row of a downloaded batch result (``jobs.download``). Views are
not pushes: five repeated requests for the same list are five times the views and no
push at all. Pushes are delivered digest items, counted by ``api.push.stats``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, inspect, select, text

from indexing.store.stats import Period
from indexing.store.tables_api import AUDIT_TRIGGERS, api_keys, audit_log

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

VIEW_ACTIONS = {"match.demand": "patents listed for a demand",
                "chains.pairs": "supply-demand pairs of a chain",
                "jobs.download": "rows of downloaded batch results"}


def _append_only(conn: Connection) -> bool:
    """Whether the triggers that refuse UPDATE/DELETE on the audit log are in place."""
    want = set(AUDIT_TRIGGERS.get(conn.dialect.name, ()))
    if conn.dialect.name == "sqlite":
        have = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger' "
                                     "AND tbl_name='audit_log'")).scalars())
    elif conn.dialect.name == "postgresql":
        have = set(conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
            "AND tgrelid = to_regclass('audit_log')")).scalars())
    else:
        return False
    return bool(want) and want <= have


def usage_stats(engine: Engine, period: Period) -> dict[str, Any]:
    """Requests, views, centres served and key/audit facts from the API's tables;
    ``available: False`` (and zeros) when the API has never run on this database (no key,
    no audit entry). Only reads."""
    empty = {"available": False, "requests": 0, "errors": 0, "by_role": {}, "by_action": {},
             "views": 0, "views_by_action": {}, "demands_served": 0, "centres_served": [],
             "keys": {}, "centres_registered": [], "centre_chains": {}, "audit_entries_total": 0,
             "audit_append_only": False}
    a = audit_log
    with engine.connect() as conn:
        if not {"audit_log", "api_keys"} <= set(inspect(conn).get_table_names()):
            return empty
        total = conn.execute(select(func.count()).select_from(a)).scalar()
        keys = conn.execute(select(api_keys.c.key_id, api_keys.c.role, api_keys.c.centre,
                                   api_keys.c.chains, api_keys.c.revoked_at)).mappings().all()
        if not total and not keys:
            return empty
        rows = conn.execute(
            select(a.c.key_id, a.c.role, a.c.action, a.c.target, a.c.result_count, a.c.status)
            .where(func.substr(a.c.ts, 1, 10).between(period.start.isoformat(),
                                                      period.end.isoformat()))
        ).mappings().all()
        append_only = _append_only(conn)
    centre_of = {k["key_id"]: k["centre"] or k["key_id"] for k in keys if k["role"] == "centre"}
    ok = [r for r in rows if r["status"] < 400]
    views: Counter = Counter()
    for r in ok:
        if r["action"] in VIEW_ACTIONS:
            views[r["action"]] += int(r["result_count"] or 0)
    served = {r["target"] for r in ok if r["action"] == "match.demand" and r["result_count"]}
    by_role: Counter = Counter((r["role"] or "anonymous") for r in rows)
    key_counts: Counter = Counter(
        f"{k['role']}.{'revoked' if k['revoked_at'] else 'active'}" for k in keys)
    return {
        "available": True,
        "requests": len(rows),
        "errors": len(rows) - len(ok),
        "by_role": dict(by_role.most_common()),
        "by_action": dict(Counter(r["action"] for r in rows).most_common()),
        "views": sum(views.values()),
        "views_by_action": {a: views.get(a, 0) for a in VIEW_ACTIONS},
        "demands_served": len(served),
        "centres_served": sorted({centre_of[r["key_id"]] for r in ok
                                  if r["key_id"] in centre_of}),
        "keys": dict(sorted(key_counts.items())),
        "centres_registered": sorted({k["centre"] or k["key_id"] for k in keys
                                      if k["role"] == "centre" and not k["revoked_at"]}),
        "centre_chains": {k["centre"] or k["key_id"]: json.loads(k["chains"] or "[]")
                          for k in keys if k["role"] == "centre" and not k["revoked_at"]},
        "audit_entries_total": int(total),
        "audit_append_only": append_only,
    }


__all__ = ["VIEW_ACTIONS", "usage_stats"]
