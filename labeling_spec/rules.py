"""The IPC rule engine: IPC -> SEI branch -> chain, with exclusions, keyword conditions and
the rule that fired kept as evidence; and the keyword fallback for text-only records."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from labeling_spec.chains import Chain, Taxonomy
from labeling_spec.ipc import IpcCode, any_match, parse_ipc, sei_branches, sei_of

# The first IPC code is the main classification; later ones count a little less.
MAIN_WEIGHT, SECONDARY_WEIGHT = 1.0, 0.85


@dataclass
class ChainHits:
    """Scores and evidence per chain for one record (mutable while rules run)."""

    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)

    def add(self, chain_id: str, score: float, why: str) -> None:
        # noisy-or: independent pieces of evidence reinforce each other, never exceed 1
        prev = self.scores.get(chain_id, 0.0)
        self.scores[chain_id] = round(1 - (1 - prev) * (1 - score), 4)
        self.evidence.setdefault(chain_id, []).append(why)


def _found(text: str, words: tuple[str, ...]) -> str | None:
    for w in words:
        if w and w in text:
            return w
    return None


@lru_cache(maxsize=4096)
def _sei_cached(code: str) -> tuple[tuple[str, str], ...]:
    return tuple((branch, str(pattern)) for branch, _rule, pattern in sei_of(code))


def ipc_hits(taxonomy: Taxonomy, ipc_codes: tuple[str, ...] | list[str], text: str) -> ChainHits:
    """Apply every chain's IPC and SEI rules to a record's IPC codes."""
    hits = ChainHits()
    parsed: list[IpcCode] = [c for c in (parse_ipc(x) for x in ipc_codes) if c is not None]
    names = sei_branches()
    for pos, code in enumerate(parsed):
        pos_w = MAIN_WEIGHT if pos == 0 else SECONDARY_WEIGHT
        sei = _sei_cached(str(code))
        for chain in taxonomy.chains:
            excl = any_match(chain.exclusions, code)
            if excl is not None:
                hits.excluded.append(f"{code}: {chain.id} 排除 (exclude_ipc {excl})")
                continue
            vetoed = _found(text, chain.exclude_keywords)
            for rule in chain.ipc_rules:
                if not rule.compiled.matches(code):
                    continue
                if rule.require_any:
                    word = _found(text, rule.require_any)
                    if word is None:
                        continue
                    if vetoed:
                        hits.excluded.append(f"{code}: {chain.id} 排除 (exclude_keywords '{vetoed}')")
                        continue
                    cond = f" + 关键词'{word}'"
                else:
                    cond = ""
                hits.add(chain.id, rule.weight * pos_w, f"IPC {code} ∈ {rule.pattern}{cond} → {chain.id}")
                break
            for ref in chain.sei_branches:
                pattern = next((p for b, p in sei if b == ref.code), None)
                if pattern is None:
                    continue
                cond = ""
                if ref.require_any:
                    word = _found(text, ref.require_any)
                    if word is None or vetoed:
                        continue
                    cond = f" + 关键词'{word}'"
                hits.add(chain.id, ref.weight * pos_w,
                         f"IPC {code} ∈ SEI {ref.code} {names.get(ref.code, '')} ({pattern}){cond} → {chain.id}")
    return hits


def keyword_hits(taxonomy: Taxonomy, text: str, *, max_score: float = 0.6) -> ChainHits:
    """Keyword fallback: distinct chain keywords found in the text (longer words weigh more)."""
    hits = ChainHits()
    for chain in taxonomy.chains:
        vetoed = _found(text, chain.exclude_keywords)
        found = sorted({w for w in chain.keywords if w in text}, key=len, reverse=True)
        # a keyword inside a longer found keyword is the same evidence (电池 in 动力电池)
        found = [w for i, w in enumerate(found) if not any(w in f for f in found[:i])]
        if not found:
            continue
        if vetoed:
            hits.excluded.append(f"{chain.id} 排除 (exclude_keywords '{vetoed}')")
            continue
        weight = sum(0.2 if len(w) >= 3 else 0.12 for w in found)
        hits.add(chain.id, min(max_score, weight), f"关键词 {'、'.join(found[:5])} → {chain.id}")
    return hits


def declared_chain(taxonomy: Taxonomy, value: str | None) -> Chain | None:
    """A chain an enterprise/reviewer declared, by id or by Chinese name (exact or contained)."""
    if not value:
        return None
    v = value.strip()
    for chain in taxonomy.chains:
        if v == chain.id or v == chain.name_zh:
            return chain
    for chain in taxonomy.chains:
        short = chain.name_zh.split("（")[0]
        if short and (short in v or v in short) and len(v) >= 2:
            return chain
    return None
