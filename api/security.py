"""API keys, roles and who may see what.

A key looks like ``pm_<key_id>_<secret>``; only ``sha256(key)`` is stored (keys are 256-bit
random strings, so a fast hash is as safe as a slow KDF and keeps auth off the latency
budget). Roles:

- ``operator``: administration and everything, contacts unmasked;
- ``analyst``: reads all chains and all demands (contacts masked), runs batch jobs;
- ``centre``: an operation centre, scoped to its assigned chains: sees its own demands
  and the non-confidential demands of its chains; contacts unmasked on its own demands only;
- ``broker``: sees non-confidential demands (of its chains when it has any) with contacts
  unmasked.

Ids a caller may not see answer 404 exactly like ids that do not exist, so existence
does not leak; ``can_see_demand`` is the one rule every endpoint applies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from sqlalchemy import insert, select, update

from indexing.store.tables_api import api_keys
from patmatch.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError

from api.db import ApiDB

log = logging.getLogger("patmatch.api.security")

Role = Literal["operator", "analyst", "centre", "broker"]
ROLES: tuple[str, ...] = ("operator", "analyst", "centre", "broker")

# action -> roles allowed. The role x endpoint matrix in tests/api mirrors this table.
PERMISSIONS: dict[str, frozenset[str]] = {
    "demands:read": frozenset(ROLES),
    "demands:write": frozenset({"operator", "centre"}),
    "patents:read": frozenset(ROLES),
    "match": frozenset(ROLES),
    "chains:read": frozenset(ROLES),
    "index:read": frozenset(ROLES),
    "jobs": frozenset({"operator", "analyst"}),
    "admin": frozenset({"operator"}),
    "audit:read": frozenset({"operator"}),
    "metrics:read": frozenset({"operator", "analyst"}),
    # subscriptions are scoped to their owner (api/push/service.py), so every role may hold some
    "subscriptions": frozenset(ROLES),
    "feedback:read": frozenset(ROLES),
    "feedback:write": frozenset({"operator", "centre", "broker"}),
    "reports": frozenset({"operator", "analyst"}),
}


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    centre: str | None = None
    chains: tuple[str, ...] = ()

    def allowed(self, action: str) -> bool:
        return self.role in PERMISSIONS[action]

    def require(self, action: str) -> None:
        if not self.allowed(action):
            raise PermissionDeniedError(
                f"role '{self.role}' may not do '{action}'; allowed roles: "
                f"{', '.join(sorted(PERMISSIONS[action]))}",
                details={"role": self.role, "action": action})

    @property
    def chain_scoped(self) -> bool:
        return self.role == "centre" or (self.role == "broker" and bool(self.chains))

    def sees_chain(self, chain: str | None, aliases: dict[str, str] | None = None) -> bool:
        if not self.chain_scoped:
            return True
        if chain is None:
            return False
        cid = (aliases or {}).get(chain, chain)
        return cid in self.chains


def demand_chain_id(rec: Any, aliases: dict[str, str] | None = None) -> str | None:
    chain = getattr(rec, "chain", None)
    return (aliases or {}).get(chain, chain) if chain else None


def can_see_demand(p: Principal, rec: Any, aliases: dict[str, str] | None = None) -> bool:
    """The one visibility rule for demands (deleted demands are invisible to everyone)."""
    if getattr(rec, "status", "active") == "deleted":
        return False
    if p.role in ("operator", "analyst"):
        return True
    own = p.role == "centre" and p.centre is not None and getattr(rec, "owner", None) == p.centre
    if own:
        return True
    if getattr(rec, "confidential", False):
        return False
    return p.sees_chain(demand_chain_id(rec, aliases))


def can_write_demand(p: Principal, rec: Any) -> bool:
    if p.role == "operator":
        return True
    return p.role == "centre" and p.centre is not None and getattr(rec, "owner", None) == p.centre


def sees_contacts(p: Principal, rec: Any) -> bool:
    if p.role in ("operator", "broker"):
        return True
    return p.role == "centre" and p.centre is not None and getattr(rec, "owner", None) == p.centre


def scope_chains(p: Principal, requested: tuple[str, ...]) -> tuple[str, ...]:
    """Chains a query may touch: the request's, clipped to the caller's assignment.

    A chain-scoped caller asking for a chain outside its assignment gets 404 (as if the
    chain did not exist), never a silently widened or emptied query.
    """
    if not p.chain_scoped:
        return requested
    if not requested:
        return p.chains
    outside = [c for c in requested if c not in p.chains]
    if outside:
        raise NotFoundError(f"chain '{outside[0]}' not found",
                            details={"chain": outside[0]})
    return requested


# --- key store -----------------------------------------------------------------------
def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    role: str
    centre: str | None
    chains: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


class KeyStore:
    """Create, list, revoke and verify API keys; verification is cached briefly."""

    CACHE_SECONDS = 2.0  # a revoked key stops working within this many seconds

    def __init__(self, db: ApiDB) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._last_used: dict[str, float] = {}

    def create(self, name: str, role: str, *, centre: str | None = None,
               chains: tuple[str, ...] | list[str] = ()) -> tuple[str, KeyInfo]:
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}; got '{role}'",
                             details={"role": role})
        if not name.strip():
            raise InputError("key name must not be empty")
        if role == "centre" and not (centre and chains):
            raise InputError("a centre key needs --centre NAME and at least one --chain",
                             details={"centre": centre, "chains": list(chains)})
        key_id = secrets.token_hex(4)
        key = f"pm_{key_id}_{secrets.token_urlsafe(32)}"
        info = KeyInfo(key_id, name.strip(), role, centre, tuple(chains), utcnow())
        self.db.run(insert(api_keys).values(
            key_id=key_id, key_hash=hash_key(key), name=info.name, role=role, centre=centre,
            chains=json.dumps(list(chains)), created_at=info.created_at))
        return key, info

    def list(self, include_revoked: bool = True) -> list[KeyInfo]:
        rows = self.db.rows(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id))
        out = [self._info(r) for r in rows]
        return [k for k in out if include_revoked or k.revoked_at is None]

    def revoke(self, key_id: str) -> KeyInfo:
        with self.db.write() as conn:
            # a revoked key keeps its first revocation time: revoking is idempotent
            conn.execute(update(api_keys).where(api_keys.c.key_id == key_id,
                                                api_keys.c.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)
                               ).mappings().first()
        if row is None:
            raise NotFoundError(f"no API key with id '{key_id}'", details={"key_id": key_id})
        self._cache.clear()
        return self._info(row)

    def verify(self, key: str | None) -> Principal:
        if not key:
            raise AuthenticationError(
                "an API key is required: send it as 'X-API-Key: <key>' or "
                "'Authorization: Bearer <key>'")
        return self.verify_digest(hash_key(key))

    def verify_digest(self, digest: str) -> Principal:
        """``verify`` for a key known by its SHA-256 only (the web console's session
        cookie carries the digest, never the key); the same cache, so a revoked key
        stops working within ``CACHE_SECONDS`` here too."""
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.CACHE_SECONDS:
            principal = hit[1]
        else:
            rows = self.db.rows(select(api_keys).where(api_keys.c.key_hash == digest,
                                                       api_keys.c.revoked_at.is_(None)))
            principal = None
            if rows and hmac.compare_digest(rows[0]["key_hash"], digest):
                info = self._info(rows[0])
                principal = Principal(info.key_id, info.name, info.role, info.centre,
                                      info.chains)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked")
        if now - self._last_used.get(principal.key_id, -1e9) > 60:
            self._last_used[principal.key_id] = now
            try:
                self.db.run(update(api_keys).where(api_keys.c.key_id == principal.key_id)
                            .values(last_used_at=utcnow()))
            except Exception:  # a busy database must not refuse a valid key over a timestamp
                log.exception("could not record the last use of key %s", principal.key_id)
        return principal

    @staticmethod
    def _info(r: Any) -> KeyInfo:
        return KeyInfo(r["key_id"], r["name"], r["role"], r["centre"],
                       tuple(json.loads(r["chains"] or "[]")), r["created_at"],
                       r["revoked_at"], r["last_used_at"])


__all__ = ["PERMISSIONS", "ROLES", "KeyInfo", "KeyStore", "Principal", "can_see_demand",
           "can_write_demand", "scope_chains", "sees_contacts"]
