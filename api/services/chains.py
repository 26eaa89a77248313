"""Industry chains: resolve a chain a caller names, and list the chains a caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patmatch.errors import NotFoundError

from api.security import Principal
from api.services.contracts import ChainInfo, ServingEngine


@dataclass(frozen=True)
class ChainCounts:
    """A chain with the served bundle's record counts (None when the bundle has none)."""

    chain: ChainInfo
    patents: int | None
    demands: int | None


def known_chain(engine: ServingEngine, p: Principal, chain: str) -> str:
    """The chain id for an id or Chinese name; 404 when unknown or outside the caller's scope."""
    aliases = {c.name_zh: c.id for c in engine.chains()}
    chain_id = aliases.get(chain, chain)
    if chain_id not in {c.id for c in engine.chains()} or not p.sees_chain(chain_id):
        raise NotFoundError(f"chain '{chain}' not found", details={"chain": chain})
    return chain_id


def per_chain_counts(manifest: dict[str, Any], side: str) -> dict[str, int]:
    """Records per chain of one side of a bundle manifest.

    The build writes them as ``chains.<side>`` (``{chain: records}``); ``counts.<side>`` is
    the side's total (an int). Older manifests kept a dict under ``counts.<side>``
    (optionally ``.per_chain``): still read."""
    if not isinstance(manifest, dict):
        return {}
    per: Any = (manifest.get("chains") or {}).get(side) if isinstance(
        manifest.get("chains"), dict) else None
    if not isinstance(per, dict):
        counts = manifest.get("counts")
        per = counts.get(side) if isinstance(counts, dict) else None
        per = per.get("per_chain", per) if isinstance(per, dict) else None
    if not isinstance(per, dict):
        return {}
    return {str(k): int(v) for k, v in per.items()
            if isinstance(v, int) and not isinstance(v, bool)}


def visible_chains(engine: ServingEngine, p: Principal) -> list[ChainCounts]:
    """The chains this caller may see, with the served bundle's counts."""
    snap = engine.current
    manifest = snap.manifest if snap else {}
    patents = per_chain_counts(manifest, "patents")
    demands = per_chain_counts(manifest, "demands")
    return [ChainCounts(c, patents.get(c.id), demands.get(c.id))
            for c in engine.chains() if p.sees_chain(c.id)]
