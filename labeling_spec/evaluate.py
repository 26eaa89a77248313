"""Measure the weakly supervised chain classifier: ``python -m labeling_spec.evaluate``.

Training data: IPC Chinese titles from the vendored tables, each labelled by the IPC rules
of the taxonomy through its own code (weak supervision; no corpus text needed), optionally
plus patents with IPC (``--patents FILE``, e.g. the ``patmatch demo-data`` output).
Held-out sets: a share of the titles, and the CPC-labelled Chinese patents of
``../shared/data/samples/sample_*.csv`` (CPC is IPC-compatible at group level), whose gold
chains are the IPC-rule labels of their codes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import types
from pathlib import Path
from typing import Any

from labeling_spec.ipc import TABLES_DIR


def title_records(*, limit_negatives: int = 4000, seed: int = 0, min_len: int = 6,
                  sample: int | None = None) -> list[Any]:
    """IPC (sub)group titles as pseudo-patents: text = subclass title + title, ipc = (code,).
    ``sample`` draws that many titles first (rule-labelling all 76k takes minutes)."""
    rows: list[tuple[str, str]] = []
    subclass: dict[str, str] = {}
    with gzip.open(TABLES_DIR / "ipc_zh_titles.tsv.gz", "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            code, level, title = line.rstrip("\n").split("\t", 2)
            if level == "subclass":
                subclass[code] = title.split("（")[0]
            elif level in ("main_group", "subgroup") and len(title) >= min_len:
                rows.append((code, title))
    if sample is not None and sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    from labeling_spec.chains import load_taxonomy
    from labeling_spec.rules import ipc_hits

    tax = load_taxonomy()
    pos, neg = [], []
    for code, title in rows:
        text = f"{subclass.get(code[:4], '')}：{title}"
        rec = types.SimpleNamespace(id=code, title=subclass.get(code[:4], ""), abstract=title, ipc=(code,))
        (pos if ipc_hits(tax, (code,), text).scores else neg).append(rec)
    rng = random.Random(seed)
    rng.shuffle(neg)
    return pos + neg[:limit_negatives]


def cpc_sample_records(shared: Path) -> list[Any]:
    import polars as pl

    out = []
    for split in ("train", "val", "test"):
        p = shared / "samples" / f"sample_{split}.csv"
        if not p.is_file():
            continue
        df = pl.read_csv(p).filter(pl.col("publication_number").is_not_null())
        for row in df.iter_rows(named=True):
            text = str(row["text"] or "")
            title = text.split("\n", 1)[0].removeprefix("Title:").strip()
            abstract = text.split("Abstract:", 1)[-1].strip()
            out.append(types.SimpleNamespace(id=row["publication_number"], title=title, abstract=abstract,
                                             ipc=tuple(json.loads(row["labels"] or "[]"))))
    return out


def read_patent_file(path: Path) -> list[Any]:
    """Patents (id, title, abstract, ipc) from CSV/JSONL/Parquet, e.g. demo-data output.
    labeling_spec may not import indexing, so this is a plain polars reader."""
    import polars as pl

    from labeling_spec.ipc import split_ipc_field

    suffix = path.suffix.lower()
    df = (pl.read_ndjson(path) if suffix in (".jsonl", ".ndjson") else
          pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path, infer_schema_length=0))
    return [types.SimpleNamespace(id=str(r.get("id")), title=r.get("title") or "", abstract=r.get("abstract") or "",
                                  ipc=split_ipc_field(r.get("ipc")), chain=r.get("chain"))
            for r in df.iter_rows(named=True)]


EVAL_DIR = Path(__file__).resolve().parent / "eval"


def demands_dev_scores(lab: Any, shared: Path) -> dict[str, Any] | None:
    """Chains of the 70 demands_dev demands against the hand-judged set in eval/."""
    src = shared / "demands_dev" / "demands_kppatent.jsonl"
    gold_file = EVAL_DIR / "demands_dev_chains.tsv"
    if not src.is_file() or not gold_file.is_file():
        return None
    gold: dict[str, set[str]] = {}
    for line in gold_file.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "demand_id")) or not line.strip():
            continue
        rid, _, chains = line.partition("\t")
        gold[rid] = {c for c in chains.split(",") if c}
    rows = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines() if x.strip()]
    recs = [types.SimpleNamespace(id=r["id"], title=r.get("title"), text=r["text"], industry=None, chain=None)
            for r in rows if r["id"] in gold]
    labels = lab.label_demands(recs)
    labelled = [(lb, gold[lb.record_id]) for lb in labels if lb.chains]
    correct = sum(1 for lb, g in labelled if lb.chains[0] in g)
    in_scope = [lb for lb in labels if gold[lb.record_id]]
    out_scope = [lb for lb in labels if not gold[lb.record_id]]
    return {
        "n": len(labels), "labelled": len(labelled),
        "precision_top1_of_labelled": round(correct / len(labelled), 4) if labelled else 0.0,
        "in_scope": len(in_scope),
        "in_scope_top3_recall": round(sum(1 for lb in in_scope if {c for c, _ in lb.top3} & gold[lb.record_id])
                                      / max(1, len(in_scope)), 4),
        "in_scope_labelled_correct": sum(1 for lb in in_scope if lb.chains and lb.chains[0] in gold[lb.record_id]),
        "out_of_scope_abstained": f"{sum(1 for lb in out_scope if lb.abstained)}/{len(out_scope)}",
    }


def run(shared: Path | None, *, seed: int = 0, limit_negatives: int = 4000,
        patents: Path | None = None, demo: Path | None = None, sample: int | None = None,
        save: Path | None = None) -> dict[str, Any]:
    """Train on rule-labelled data and report held-out quality (see module docstring)."""
    from labeling_spec.classifier import evaluate
    from labeling_spec.labeler import Labeler, patent_text

    lab = Labeler.load()
    titles = title_records(limit_negatives=limit_negatives, seed=seed, sample=sample)
    held: list[Any] = []
    if demo is not None:
        held += read_patent_file(demo / "patents_universities.csv")
    if patents is not None:
        held += read_patent_file(patents)
    if held:
        # held-out = real (or demo) patents; IPC titles only ever train
        extra = [(patent_text(r), ls) for r, ls in zip(titles, lab.weak_labels(titles), strict=True)]
        data = f"train: {len(titles)} IPC titles + 80% of {len(held)} patents; test: 20% of the patents"
        report = lab.fit_classifier(held, holdout=0.2, seed=seed, extra=extra, data=data)
    else:
        report = lab.fit_classifier(titles, holdout=0.2, seed=seed, data=f"IPC titles ({len(titles)}), 80/20")
    out: dict[str, Any] = {"holdout": report.to_dict()}
    if save is not None:
        lab.classifier.save(save)
    if held:
        # the IPC rules themselves against the generator's subject chain (demo data only)
        truth = [getattr(r, "chain", None) for r in held]
        if any(truth):
            rules = lab.weak_labels(held)
            hit = sum(1 for t, ls in zip(truth, rules, strict=True) if t and t in ls)
            out["rules_vs_demo_truth"] = {"recall": round(hit / sum(1 for t in truth if t), 4)}
    if demo is not None and (demo / "demands_platform.csv").is_file():
        import polars as pl

        df = pl.read_csv(demo / "demands_platform.csv", infer_schema_length=0)
        recs = [types.SimpleNamespace(id=r["id"], title=r.get("title"), text=r.get("text") or "",
                                      industry=None, chain=None, budget=None, cooperation_mode=None,
                                      required_trl=None, deadline=None)
                for r in df.iter_rows(named=True) if r.get("chain")]
        labels = lab.label_demands(recs)
        gold = [r["chain"] for r in df.iter_rows(named=True) if r.get("chain")]
        top1 = sum(1 for g, lb in zip(gold, labels, strict=True) if lb.chains[:1] == (g,))
        top3 = sum(1 for g, lb in zip(gold, labels, strict=True) if g in [c for c, _ in lb.top3])
        abst = sum(1 for lb in labels if lb.abstained)
        out["demo_demands"] = {"n": len(gold), "top1_accuracy": round(top1 / len(gold), 4),
                               "top3_recall": round(top3 / len(gold), 4), "abstained": abst}
    if shared is not None:
        dev = demands_dev_scores(lab, shared)
        if dev is not None:
            out["demands_dev_hand_judged"] = dev
        cpc = cpc_sample_records(shared)
        gold = lab.weak_labels(cpc)
        keep = [(r, g) for r, g in zip(cpc, gold, strict=True) if g]
        if keep:
            rep = evaluate(lab.classifier, [patent_text(r) for r, _ in keep], [g for _, g in keep],
                           n_train=report.n_train, data=f"CPC sample patents with a chain ({len(keep)} of {len(cpc)})")
            out["cpc_samples"] = rep.to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="evaluate the weakly supervised chain classifier")
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--patents", type=Path, default=None,
                    help="extra IPC-labelled patents (e.g. the patents file of `patmatch demo-data`)")
    ap.add_argument("--demo", type=Path, default=None, help="a `patmatch demo-data` output folder")
    ap.add_argument("--sample", type=int, default=None, help="use this many IPC titles (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--negatives", type=int, default=4000, help="IPC titles outside every chain to train on")
    ap.add_argument("--save", type=Path, default=None, help="save the trained classifier here")
    args = ap.parse_args(argv)
    shared = args.shared
    if shared is None:
        from patmatch.settings import shared_data_dir

        shared = shared_data_dir()
    print(json.dumps(run(shared, seed=args.seed, patents=args.patents, demo=args.demo, sample=args.sample,
                         limit_negatives=args.negatives, save=args.save), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
