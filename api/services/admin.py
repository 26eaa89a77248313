"""Administration: the served index, publish / rollback / reload with the switch, API keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patmatch.errors import BundleIntegrityError, InputError, PatmatchError

from api.metrics import Metrics
from api.reload import check_now
from api.security import KeyInfo, KeyStore
from api.services.contracts import ServingEngine


@dataclass(frozen=True)
class AdminOutcome:
    """What an admin action did: the build it named, and what is served afterwards."""

    action: str
    build_id: str | None
    swapped: bool
    serving: str | None
    reload_error: str | None


def _manifest_section(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, dict) else {}


def served_index(engine: ServingEngine) -> dict[str, Any]:
    """The served bundle: build id, path, counts, fingerprints, quality, last reload error."""
    snap = engine.snapshot()
    manifest = snap.manifest  # the JSON form of indexing.index.manifest.BundleManifest
    fingerprints = {what: _manifest_section(manifest, what).get("fingerprint")
                    for what in ("tokenizer", "encoder")}
    created = manifest.get("created_at")
    return {"build_id": snap.build_id, "path": str(snap.path), "loaded_at": snap.loaded_at,
            "created_at": str(created) if created else None,
            "counts": _manifest_section(manifest, "counts"), "fingerprints": fingerprints,
            "quality": _manifest_section(manifest, "quality"),
            "reload_error": engine.last_reload_error}


def push_counts(db: Any, settings: Any) -> dict[str, int]:
    """Delivered pushes (all time, last 365 days) and, separately, API result views."""
    import datetime as _dt

    from api.push.stats import push_summary
    from api.usage import usage_stats
    from indexing.store.stats import Period

    out = push_summary(db)
    today = _dt.datetime.now(_dt.timezone.utc).date()
    period = Period(today - _dt.timedelta(days=364), today)
    out["views_last_365_days"] = int(usage_stats(db, period)["views"])
    return out


def _switch(engine: ServingEngine, metrics: Metrics) -> bool:
    """After publish/rollback moved the pointer: switch; a failed load keeps the old one."""
    try:
        return check_now(engine, metrics)
    except PatmatchError:
        return False


def _outcome(engine: ServingEngine, action: str, build_id: str | None,
             swapped: bool) -> AdminOutcome:
    snap = engine.current
    return AdminOutcome(action=action, build_id=build_id, swapped=swapped,
                        serving=snap.build_id if snap else None,
                        reload_error=None if swapped else engine.last_reload_error)


def publish(engine: ServingEngine, metrics: Metrics, build_id: str | None, *,
            force: bool) -> AdminOutcome:
    """Publish a staged build (through the quality gate unless forced) and switch to it."""
    published = engine.publish(build_id, force=force)
    return _outcome(engine, "publish", published, _switch(engine, metrics))


def rollback(engine: ServingEngine, metrics: Metrics) -> AdminOutcome:
    rolled_to = engine.rollback()
    return _outcome(engine, "rollback", rolled_to, _switch(engine, metrics))


def reload(engine: ServingEngine, metrics: Metrics) -> AdminOutcome:
    """Check the published pointer now. A published bundle that does not verify is an
    error here (503, with what serves instead and the fix), although serving goes on."""
    swapped = check_now(engine, metrics, retry=True)
    fb = getattr(engine, "fallback", None)
    if fb is not None:
        raise BundleIntegrityError(
            f"{fb.reason}; still serving {fb.serving}, fix with `{fb.advice}`",
            details={"published": fb.published, "serving": fb.serving, "advice": fb.advice})
    return _outcome(engine, "reload", None, swapped)


def create_key(engine: ServingEngine, keys: KeyStore, name: str, role: str, *,
               centre: str | None, chains: tuple[str, ...]) -> tuple[str, KeyInfo]:
    """A new API key (returned once) scoped to known chains only."""
    known = {c.id for c in engine.chains()}
    by_name = {c.name_zh: c.id for c in engine.chains()}  # Chinese names work as ids
    chains = tuple(dict.fromkeys(by_name.get(c, c) for c in chains))
    unknown = [c for c in chains if c not in known]
    if unknown:
        raise InputError(f"unknown chain id(s) {', '.join(unknown)}; expected some of "
                         f"{', '.join(sorted(known))}", details={"unknown": unknown})
    return keys.create(name, role, centre=centre, chains=chains)
