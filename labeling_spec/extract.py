"""技术问题 / 技术手段 / 功能效果 from patent abstracts and demand texts.

Chinese patent abstracts have stable phrasing (…解决了…问题, 通过…, 具有…的优点, 包括…步骤);
the patterns live in ``spec/extraction.yaml`` so they can be tuned without code. Each
function returns plain strings (or None when nothing reliable was found: a missing value is
better than a wrong one); ``*_spans`` variants return character offsets into the input so
UIs can highlight and tests can compare against hand-checked spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from patmatch.errors import SpecError

from labeling_spec.spec import read_yaml, spec_path

FIELDS: tuple[str, ...] = ("problem", "means", "effect")
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ExtractionSpec:
    version: str
    max_chars: int
    patent: dict[str, tuple[re.Pattern[str], ...]]
    demand: dict[str, tuple[re.Pattern[str], ...]]


def _compile(side: dict, where: str) -> dict[str, tuple[re.Pattern[str], ...]]:
    out: dict[str, tuple[re.Pattern[str], ...]] = {}
    if not isinstance(side, dict):
        raise SpecError(f"{where}: expected a mapping of problem/means/effect pattern lists")
    for field in FIELDS:
        patterns = side.get(field) or []
        compiled: list[re.Pattern[str]] = []
        for i, p in enumerate(patterns):
            try:
                rx = re.compile(p)
            except (re.error, TypeError) as exc:
                raise SpecError(f"{where}.{field}[{i}]: expected a valid regular expression, "
                                f"got {p!r} ({exc})", details={"field": f"{where}.{field}[{i}]"}) from None
            if "span" not in rx.groupindex:
                raise SpecError(f"{where}.{field}[{i}]: expected a named group (?P<span>...), got {p!r}",
                                details={"field": f"{where}.{field}[{i}]"})
            compiled.append(rx)
        out[field] = tuple(compiled)
    return out


@lru_cache(maxsize=8)
def load_extraction_spec(path: str | None = None) -> ExtractionSpec:
    p = Path(path) if path else spec_path(None, "extraction.yaml")
    data = read_yaml(p)
    return ExtractionSpec(
        version=str(data.get("version", "")), max_chars=int(data.get("max_chars", 160)),
        patent=_compile(data.get("patent"), f"{p}:patent"),
        demand=_compile(data.get("demand"), f"{p}:demand"),
    )


_TRIM = "，,；;：: 、的"
# connective words left dangling at the end of a span cut at the next field
_TAIL_WORDS = ("解决了", "解决", "得到", "做到", "让", "从而", "进而", "并且", "可以", "能够", "以便", "使得", "使", "以", "并", "且", "可")


# phrase boundaries a long span may end at (the boundary itself is not part of the span)
_BOUNDARIES = "。；;，,、"


def _phrase_end(text: str, start: int, end: int, max_chars: int) -> int:
    """Where a span longer than ``max_chars`` ends, so it never stops mid-word: at the last
    phrase boundary (。；，、 or ASCII ; ,) within its first ``max_chars`` characters that
    leaves at least 4; when its first phrase alone is longer, that phrase is kept whole (to
    its own boundary, or the span's end)."""
    if end - start <= max_chars:
        return end
    limit = start + max_chars
    cut = max(text.rfind(c, start, limit + 1) for c in _BOUNDARIES)
    if cut - start >= 4:
        return cut
    after = [i for i in (text.find(c, limit, end) for c in _BOUNDARIES) if i >= 0]
    return min(after, default=end)


def _trim(text: str, start: int, end: int, max_chars: int) -> Span | None:
    span = _trim_ends(text, start, end)
    if span is None or span[1] - span[0] <= max_chars:
        return span
    # too long: end at a phrase boundary, then trim the new end the same way
    return _trim_ends(text, span[0], _phrase_end(text, span[0], span[1], max_chars))


def _trim_ends(text: str, start: int, end: int) -> Span | None:
    changed = True
    while changed:
        changed = False
        while start < end and text[start] in _TRIM:
            start += 1
        while end > start and text[end - 1] in _TRIM:
            end, changed = end - 1, True
        for w in _TAIL_WORDS:
            if end - start > len(w) and text[start:end].endswith(w):
                end, changed = end - len(w), True
                break
    if end - start < 4 and not (end - start >= 2 and text[start:end] == text[start:end].strip()
                                and end < len(text) and text[end] in "问的"):
        return None
    return (start, end)


_TAIL = re.compile(r"(?:等|的)*(?:优点|特点|优势)$")


def _first(text: str, patterns: tuple[re.Pattern[str], ...], max_chars: int,
           taken: list[Span], *, whole_clauses: bool = False) -> Span | None:
    for rx in patterns:
        for m in rx.finditer(text):
            start, end = m.start("span"), m.end("span")
            tail = _TAIL.search(text, start, end)
            if tail and tail.start() - start >= 2:
                end = tail.start()
            # a span may run into an already-extracted field: cut it there, keep the head
            for s, e in taken:
                if s <= start < e:
                    start = -1
                    break
                if start < s < end:
                    # cut at the last clause boundary before the other field, so a
                    # phrase is never split ("…性能，解决了传统" -> "…性能")
                    cut = max(text.rfind(c, start, s) for c in "，,；;")
                    if cut <= start and whole_clauses:
                        # the head alone is a fragment ("在炉壳外表面" + 实现…): try the next match
                        start = -1
                        break
                    end = cut if cut > start else s
            if start < 0:
                continue
            span = _trim(text, start, end, max_chars)
            if span:
                return span
    return None


def _spans(text: str, patterns: dict[str, tuple[re.Pattern[str], ...]], max_chars: int,
           *, whole_clauses: bool = False) -> dict[str, Span | None]:
    # Effect and problem first: their cue phrases are the most reliable; the means must
    # not overlap them (a 通过… clause that ends in 提高… belongs to the effect).
    taken: list[Span] = []
    out: dict[str, Span | None] = {}
    for field in ("problem", "effect", "means"):
        span = _first(text, patterns[field], max_chars, taken, whole_clauses=whole_clauses)
        out[field] = span
        if span:
            taken.append(span)
    return {f: out[f] for f in FIELDS}


def extract_patent_spans(abstract: str, *, spec: ExtractionSpec | None = None) -> dict[str, Span | None]:
    spec = spec or load_extraction_spec()
    return _spans(abstract or "", spec.patent, spec.max_chars)


def extract_demand_spans(text: str, *, spec: ExtractionSpec | None = None) -> dict[str, Span | None]:
    spec = spec or load_extraction_spec()
    # a demand's means is a whole clause or nothing: a goal clause (希望…实现…) is the effect
    return _spans(text or "", spec.demand, spec.max_chars, whole_clauses=True)


def _texts(text: str, spans: dict[str, Span | None]) -> tuple[str | None, str | None, str | None]:
    return tuple(text[s[0]:s[1]] if s else None for s in (spans[f] for f in FIELDS))  # type: ignore[return-value]


def extract_patent(abstract: str, *, spec: ExtractionSpec | None = None) -> tuple[str | None, str | None, str | None]:
    """(problem, means, effect) of a patent abstract; None where no cue phrase was found."""
    return _texts(abstract or "", extract_patent_spans(abstract, spec=spec))


def extract_demand(text: str, *, spec: ExtractionSpec | None = None) -> tuple[str | None, str | None, str | None]:
    """(problem, means, effect) of a demand: what hurts, what is wanted, what target."""
    return _texts(text or "", extract_demand_spans(text, spec=spec))


_CLAIM_SPLIT = re.compile(r"[；;]|，(?=(?:所述|其中|其特征在于))")


def essential_features(first_claim: str | None, *, limit: int = 8) -> tuple[str, ...]:
    """必要技术特征: the clauses of the independent claim after 其特征在于 (or its preamble
    elements when there is no characterising part), at most ``limit``."""
    if not first_claim:
        return ()
    text = re.sub(r"^\s*1\s*[.、．]\s*", "", first_claim.strip())
    if "其特征在于" in text:
        pre, _, char = text.partition("其特征在于")
        body = char.lstrip("：:，, ")
    else:
        body = re.split(r"包括[：:]?|包含[：:]?", text, maxsplit=1)[-1]
    parts = [p.strip(" ，,。：:") for p in _CLAIM_SPLIT.split(body)]
    return tuple(p[:120] for p in parts if len(p) >= 4)[:limit]
