"""Load and merge the demo vocabulary, and compose patent titles from it.

``vocab.yaml`` holds the areas (problems, effects, six hand-written subjects each) and the
word lists; ``subjects_*.yaml`` add subjects, problems and application fields per chain in
a compact one-line form; ``patterns.yaml`` holds title patterns, legal-status weights and
applicants. ``load_vocab()`` returns one merged dict, so callers see a single shape.
"""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path
from typing import Any

from indexing.training.demo_data.text import PROCESS_WORDS
from patmatch.errors import InputError

_HERE = Path(__file__).resolve().parent
_KINDS = ("material", "device", "method", "system")
# a 2+ character chunk repeated back to back (结构结构, 电池电池) never appears in a real title
DOUBLED = re.compile(r"(.{2,})\1")
# steps and equipment read wrong in 含…的 / …改性 material titles
_PROCESS = ("工艺", "处理", "炉", "烧结", "干燥", "机", "渗透")


def _split(field: str) -> list[str]:
    return [x.strip() for x in field.split(",") if x.strip()]


def _subject(line: str, n_problems: int, where: str) -> dict[str, Any]:
    f = [x.strip() for x in line.split("|")]
    if len(f) not in (5, 6) or f[1] not in _KINDS:
        raise InputError(f"{where}: expected 'term | kind | ipc | plain | parts [| problems]' "
                         f"with kind in {_KINDS}, got {line!r}")
    probs = [int(x) for x in _split(f[5])] if len(f) == 6 else list(range(n_problems))
    if not probs or max(probs) >= n_problems:
        raise InputError(f"{where}: problem indices {probs} outside 0..{n_problems - 1} in {line!r}")
    return {"term": f[0], "kind": f[1], "ipc": _split(f[2]), "plain": _split(f[3]),
            "parts": _split(f[4]), "problems": probs}


@functools.lru_cache(maxsize=1)
def load_vocab() -> dict[str, Any]:
    import yaml

    def read(name: str) -> Any:
        return yaml.safe_load((_HERE / name).read_text(encoding="utf-8"))

    v = read("vocab.yaml")
    v.update(read("patterns.yaml"))
    by_chain = {a["chain"]: a for a in v["areas"]}
    for path in sorted(_HERE.glob("subjects_*.yaml")):
        for chain, extra in read(path.name).items():
            if chain not in by_chain:
                raise InputError(f"{path.name}: unknown chain {chain!r}; expected one of {sorted(by_chain)}")
            area = by_chain[chain]
            for line in extra.get("extra_problems") or []:
                tech, plain, etech, eplain = (x.strip() for x in line.split("|"))
                area["problems"].append({"tech": tech, "plain": plain})
                area["effects"].append({"tech": etech, "plain": eplain})
                area["solves"].append(len(area["effects"]) - 1)
            area.setdefault("uses", []).extend(extra.get("uses") or [])
            area["subjects"] += [_subject(s, len(area["problems"]), f"{path.name}:{chain}")
                                 for s in extra.get("subjects") or []]
    for area in v["areas"]:
        area.setdefault("uses", [])
        if not area["uses"]:
            area["uses"] = [area["industry"]]
    return v


def compose_title(rng: random.Random, v: dict[str, Any], area: dict[str, Any],
                  subj: dict[str, Any], parts: list[str]) -> tuple[str, str]:
    """(title, core): core is what abstracts and claims call the invention (一种{core})."""
    pat = v["titles"]
    term, kind = subj["term"], subj["kind"]
    if term.endswith("方法"):
        kind = "method"
    qs = [p for p in parts if p not in term and term not in p
          and not (kind == "material" and any(w in p for w in _PROCESS))] or parts
    uses = [u for u in area["uses"] if u[:2] not in term] or area["uses"]
    for _ in range(8):
        tpl = rng.choice(pat["core"][kind])
        if term.startswith("基于") and tpl.startswith("基于"):
            continue
        core = tpl.format(t=term, q=rng.choice(qs), u=rng.choice(uses))
        group = "apparatus" if term.endswith("装置") else \
            "process" if kind == "method" and any(w in term for w in PROCESS_WORDS) else kind
        sfx = rng.choice(pat["suffix"][group])
        head = "" if rng.random() < pat["without_yizhong"] else "一种"
        title = f"{head}{core}{sfx}"
        if not DOUBLED.search(title):
            return title, core
    return f"一种{term}", term
