"""Append-only audit log of data access: who, what record or query, when, result count.

Rows live in ``audit_log`` of the one database (``indexing/store/tables_api.py``);
triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so the log can only grow. Query texts are kept (operators need to see what was
asked) but cut to 500 characters, with personal data masked by the one detector
(``indexing.privacy.mask_pii``: phones, e-mails, ID and bank-card numbers, names after
联系人 and the like) before they are stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from indexing.privacy import mask_pii
from indexing.store.tables_api import audit_log

from api.db import ApiDB
from api.security import Principal, utcnow

log = logging.getLogger("patmatch.api.audit")

MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    key_id: str | None
    key_name: str | None
    role: str | None
    method: str
    path: str
    action: str
    target: str | None
    query: str | None
    result_count: int | None
    status: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AuditLog:
    def __init__(self, db: ApiDB) -> None:
        self.db = db

    def record(self, principal: Principal | None, *, method: str, path: str, action: str,
               target: str | None = None, query: str | None = None,
               result_count: int | None = None, status: int = 200) -> None:
        # masked before the cut, so a number split at the cut is still recognised
        q = (mask_pii(query) or "")[:MAX_QUERY_CHARS] if query else None
        try:
            self.db.run(insert(audit_log).values(
                ts=utcnow(), key_id=principal.key_id if principal else None,
                key_name=principal.name if principal else None,
                role=principal.role if principal else None, method=method, path=path,
                action=action, target=target, query=q, result_count=result_count,
                status=status))
        except Exception:  # the audit must never turn a served answer into a 500
            log.exception("could not write audit entry for %s %s", method, path)

    def read(self, *, limit: int = 100, offset: int = 0, key_id: str | None = None,
             action: str | None = None, since: str | None = None) -> tuple[int, list[AuditEntry]]:
        t = audit_log
        conds = []
        if key_id:
            conds.append(t.c.key_id == key_id)
        if action:
            conds.append(t.c.action == action)
        if since:
            conds.append(t.c.ts >= since)
        total = self.db.scalar(select(func.count()).select_from(t).where(*conds))
        rows = self.db.rows(select(t).where(*conds).order_by(t.c.seq.desc())
                            .limit(limit).offset(offset))
        return int(total), [AuditEntry(**dict(r)) for r in rows]
