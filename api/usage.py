"""Service statistics from the API's own database for a reporting period: who was served,
how many match results they viewed, and the access-control facts a security review
asks for. These are the 服务 and 数据安全 sections of ``patmatch report``.

A *view* is one match result shown to a caller through an audited, successful request: a
patent listed for a demand (``match.demand``), a supply-demand pair of a chain
(``chains.pairs``), or a row of a downloaded batch result (``jobs.download``). Views are
not pushes: five repeated requests for the same list are five times the views and no
push at all. Pushes are delivered digest items, counted by ``api.push.stats``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from indexing.store.stats import Period

VIEW_ACTIONS = {"match.demand": "patents listed for a demand",
                "chains.pairs": "supply-demand pairs of a chain",
                "jobs.download": "rows of downloaded batch results"}


def _connect(path: Path) -> sqlite3.Connection:
    # read-only: a report must never create or change the API database
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    conn.row_factory = sqlite3.Row
    return conn


def usage_stats(db_path: Path, period: Period) -> dict[str, Any]:
    """Requests, views, centres served and key/audit facts from ``api.sqlite3``;
    ``available: False`` (and zeros) when the API has never run in this data home."""
    empty = {"available": False, "requests": 0, "errors": 0, "by_role": {}, "by_action": {},
             "views": 0, "views_by_action": {}, "demands_served": 0, "centres_served": [],
             "keys": {}, "centres_registered": [], "centre_chains": {}, "audit_entries_total": 0,
             "audit_append_only": False}
    if not Path(db_path).is_file():
        return empty
    with _connect(Path(db_path)) as conn:
        rows = conn.execute(
            "SELECT key_id, role, action, target, result_count, status FROM audit_log "
            "WHERE substr(ts, 1, 10) BETWEEN ? AND ?",
            (period.start.isoformat(), period.end.isoformat())).fetchall()
        keys = conn.execute("SELECT key_id, role, centre, chains, revoked_at FROM api_keys"
                            ).fetchall()
        total = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        triggers = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")}
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
        "audit_append_only": {"audit_no_update", "audit_no_delete"} <= triggers,
    }


__all__ = ["VIEW_ACTIONS", "usage_stats"]
