"""Precision and recall of problem/means/effect and chains from the hand judgements in
``eval/extraction_judged.tsv`` (one row per record: a code per field, see the file's header).

    python -m labeling_spec.judged [FILE] [--stale DATA_DIR]

Per kind (patent, demand) and field: *extracted* = C + P + W + X, precision = C / extracted
(strict) and (C + P) / extracted (partly counted as right); *stated* = C + P + W + M,
recall = (C + P) / stated. ``--stale`` relabels the judged records from ../shared/data and
lists those whose labels changed since they were judged (their digest differs).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from patmatch.errors import FileFormatError

JUDGED = Path(__file__).parent / "eval" / "extraction_judged.tsv"
FIELDS = ("problem", "means", "effect", "chain")
CODES = frozenset("CPWXMN")


def read_judgements(path: str | Path = JUDGED) -> list[dict[str, str]]:
    path = Path(path)
    rows: list[dict[str, str]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [x for x in fh if x.strip() and not x.startswith("#")]
    for i, row in enumerate(csv.DictReader(lines, delimiter="\t"), 2):
        if row.get("kind") not in ("patent", "demand") or not row.get("id"):
            raise FileFormatError(f"{path}: row {i}: expected kind patent|demand and an id, got {row}")
        for f in FIELDS:
            if row.get(f) not in CODES:
                raise FileFormatError(f"{path}: row {i} ({row['id']}): {f} must be one of "
                                      f"{''.join(sorted(CODES))}, got {row.get(f)!r}")
        rows.append(row)
    ids = [(r["kind"], r["id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise FileFormatError(f"{path}: a record is judged twice")
    return rows


def figures(rows: list[dict[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: {field: {n, extracted, stated, precision, lenient, recall, counts}}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in ("patent", "demand"):
        mine = [r for r in rows if r["kind"] == kind]
        out[kind] = {}
        for f in FIELDS:
            c = {k: sum(r[f] == k for r in mine) for k in sorted(CODES)}
            extracted = c["C"] + c["P"] + c["W"] + c["X"]
            stated = c["C"] + c["P"] + c["W"] + c["M"]
            out[kind][f] = {
                "n": len(mine), "extracted": extracted, "stated": stated, "counts": c,
                "precision": round(c["C"] / extracted, 2) if extracted else None,
                "lenient": round((c["C"] + c["P"]) / extracted, 2) if extracted else None,
                "recall": round((c["C"] + c["P"]) / stated, 2) if stated else None,
            }
    return out


def to_markdown(figs: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = ["| 对象 | 字段 | 条数 | 给出 | 原文有 | 精确率（严格） | 精确率（含部分正确） | 召回率 |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for kind, name in (("patent", "专利"), ("demand", "需求")):
        for f in FIELDS:
            g = figs[kind][f]
            fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {name} | {f} | {g['n']} | {g['extracted']} | {g['stated']} | "
                         f"{fmt(g['precision'])} | {fmt(g['lenient'])} | {fmt(g['recall'])} |")
    return "\n".join(lines)


def digest(labels: dict[str, Any]) -> str:
    text = "\x1f".join(str(labels.get(f) or "") for f in ("problem", "means", "effect"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def stale(rows: list[dict[str, str]], data_dir: str | Path) -> list[str]:
    """Ids whose current labels differ from the judged ones (needs ../shared/data)."""
    from labeling_spec import Labeler

    data = Path(data_dir)
    kp = {r["id"]: r for r in map(json.loads, (data / "kppatent_zh" / "kppatent_zh_joined.jsonl")
                                  .read_text(encoding="utf-8").splitlines())}
    dm = {r["id"]: r for r in map(json.loads, (data / "demands_dev" / "demands_kppatent.jsonl")
                                  .read_text(encoding="utf-8").splitlines())}
    lab = Labeler.load()

    def rec(**kw: Any) -> Any:
        return type("Rec", (), kw)()

    pats = [r for r in rows if r["kind"] == "patent"]
    dems = [r for r in rows if r["kind"] == "demand"]
    got = lab.label_patents([rec(id=r["id"], title=kp[r["id"]].get("title") or "",
                                 abstract=kp[r["id"]]["abstract"], claims=kp[r["id"]].get("claims"),
                                 ipc=None) for r in pats])
    got += lab.label_demands([rec(id=r["id"], title=dm[r["id"]]["title"], text=dm[r["id"]]["text"])
                              for r in dems])
    out = []
    for r, labels in zip(pats + dems, got):
        d = labels.to_dict() if hasattr(labels, "to_dict") else dict(vars(labels))
        if digest(d) != r["digest"]:
            out.append(r["id"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(JUDGED))
    ap.add_argument("--stale", metavar="DATA_DIR", help="list judged records whose labels changed")
    a = ap.parse_args(argv)
    rows = read_judgements(a.file)
    print(to_markdown(figures(rows)))
    if a.stale:
        changed = stale(rows, a.stale)
        print(f"\n{len(changed)} judged records have changed labels" + (f": {', '.join(changed)}" if changed else ""))
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
