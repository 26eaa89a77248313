"""Evaluation tasks: a corpus, queries and graded judgements (qrels).

Every task over ``../shared/data`` is built here from the files as published (nothing is
copied into the repository). ``load_task(name, shared_dir)`` returns a :class:`Task`:

- ``corpus``: ``PatentRecord`` documents (CSL papers are carried as records too: title +
  abstract is all the ranker needs);
- ``queries``: ``{query_id: text}``; ``qrels``: ``{query_id: {doc_id: grade}}``;
- ``query_groups``: ``{query_id: (group, ...)}`` for per-group tables (industry chain for
  the demo data, 行业 for ``demands_dev``, discipline for CSL); ``group_kind`` names it;
- ``exclude``: documents to drop from a query's ranking before scoring (the query paper
  itself in the same-discipline task).

Task names (``TASKS``):

``demands_dev``          70 hand-written enterprise demands over the 3,720 KPPatent-ZH
                         patents, graded 1-3 (the project's main quality set).
Known-item and discipline queries are restricted to records the default encoder never
trained on (``indexing.training.corpus.is_heldout``: CSL test split, odd-numbered KPPatent test
patents); the corpora stay whole.

``kppatent_keyphrases``  human keyphrases of each test-split patent -> that patent.
``kppatent_title``       title of each test-split patent -> that patent; the corpus has
                         titles blanked (abstract + claims only), else it is trivial.
``csl_keywords``         paper keywords -> that paper (title + abstract).
``csl_title``            paper title -> that paper's abstract (titles blanked).
``csl_discipline``       paper title -> papers of the same discipline (grade 1, the paper
                         itself excluded); read it as precision@10.
``demo``                 the generated demo set: ``shared_dir`` is then the
                         ``patmatch demo-data --out DIR`` folder (patents, demands,
                         ``qrels.tsv``).

Judgement files are TSV with a header, columns ``query_id, doc_id, grade``
(``matcher.relevance.read_qrels``/``write_qrels``); any header names are accepted on read, so
``demands_dev/qrels_kppatent.tsv`` (``demand_id, patent_id, grade``) reads as is.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexing.records import DemandRecord, PatentRecord
from matcher.relevance import Qrels, read_qrels
from patmatch.atomic_io import atomic_open
from patmatch.errors import FileFormatError, InputError


KPPATENT_FILE = "kppatent_zh/kppatent_zh_joined.jsonl"
CSL_FILE = "csl/csl_joined_dev_test.jsonl"
DEMANDS_FILE = "demands_dev/demands_kppatent.jsonl"
DEMANDS_QRELS = "demands_dev/qrels_kppatent.tsv"


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    corpus: tuple[PatentRecord, ...]
    queries: dict[str, str]
    qrels: Qrels
    query_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_kind: str = ""
    exclude: dict[str, frozenset[str]] = field(default_factory=dict)
    # demand records for tasks whose queries are demands (a bundle's demand side)
    demands: tuple[DemandRecord, ...] = ()
    # extra cut-offs for precision@k (tasks judged by class membership, not items)
    precision_ks: tuple[int, ...] = ()

    @property
    def doc_ids(self) -> list[str]:
        return [r.id for r in self.corpus]

    def summary(self) -> dict[str, Any]:
        judged = sum(len(v) for v in self.qrels.values())
        return {"task": self.name, "documents": len(self.corpus), "queries": len(self.queries),
                "judgements": judged, "groups": len({g for gs in self.query_groups.values() for g in gs})}

    def subset(self, max_queries: int | None) -> Task:
        """The first ``max_queries`` judged queries (in id order): a cheaper, stable slice."""
        if not max_queries or max_queries >= len(self.queries):
            return self
        keep = sorted(q for q in self.queries if q in self.qrels)[:max_queries]
        ks = set(keep)
        return Task(
            name=self.name, description=self.description, corpus=self.corpus,
            queries={q: self.queries[q] for q in keep},
            qrels={q: v for q, v in self.qrels.items() if q in ks},
            query_groups={q: v for q, v in self.query_groups.items() if q in ks},
            group_kind=self.group_kind,
            exclude={q: v for q, v in self.exclude.items() if q in ks},
            demands=tuple(d for d in self.demands if d.id in ks), precision_ks=self.precision_ks)


def _require(shared_dir: Path | str | None, rel: str) -> Path:
    if shared_dir is None:
        raise InputError("this task needs ../shared/data; none was found "
                         "(set PATMATCH_SHARED_DATA or pass the folder)")
    path = Path(shared_dir) / rel
    if not path.exists():
        raise FileFormatError(f"task data missing: expected {path}", details={"path": str(path)})
    return path


@lru_cache(maxsize=8)
def _jsonl(path: Path) -> tuple[dict[str, Any], ...]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise FileFormatError(f"{path.name} line {n}: expected one JSON object, got "
                                      f"{line[:60]!r} ({exc.msg})") from None
    return tuple(rows)


def write_qrels(qrels: Mapping[str, Mapping[str, int]], path: str | Path) -> Path:
    """Write judgements as TSV ``query_id, doc_id, grade`` atomically."""
    rows = [(q, d, g) for q in sorted(qrels) for d, g in sorted(qrels[q].items())]
    return _write_tsv(path, ("query_id", "doc_id", "grade"), rows)


def read_queries(path: str | Path) -> dict[str, str]:
    """Queries from TSV (``query_id, text``, header) or JSONL (``id`` + ``text``/``title``)."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"queries file not found: {path}")
    if path.suffix.lower() in (".jsonl", ".json"):
        out = {}
        for r in _jsonl(path.resolve()):
            qid = str(r.get("id") or r.get("query_id") or "")
            text = "。".join(str(r[k]) for k in ("title", "text") if r.get(k))
            if not qid or not text:
                raise FileFormatError(f"{path.name}: each line needs 'id' and 'text' (or 'title'), got {sorted(r)}")
            out[qid] = text
        return out
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows:
        raise FileFormatError(f"{path.name}: empty; expected a header 'query_id<TAB>text' and rows")
    out = {}
    for n, row in enumerate(rows[1:], 2):
        if len(row) < 2:
            if any(c.strip() for c in row):
                raise FileFormatError(f"{path.name} row {n}: expected query_id<TAB>text, got {row!r}")
            continue
        out[row[0].strip()] = row[1].strip()
    return out


def write_queries(queries: Mapping[str, str], path: str | Path) -> Path:
    return _write_tsv(path, ("query_id", "text"), sorted(queries.items()))


def _write_tsv(path: str | Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Path:
    path = Path(path)
    with atomic_open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(list(header))
        w.writerows(rows)
    return path


# --- corpora ------------------------------------------------------------------------
def kppatent_records(shared_dir: Path | str | None, *, blank_titles: bool = False) -> tuple[PatentRecord, ...]:
    """The 3,720 KPPatent-ZH patents; the train split has no title (title is empty)."""
    rows = _jsonl(_require(shared_dir, KPPATENT_FILE).resolve())
    return tuple(
        PatentRecord(id=r["id"], title="" if blank_titles else (r.get("title") or ""),
                     abstract=r.get("abstract") or "", claims=r.get("claims") or None,
                     source="kppatent_zh")
        for r in rows)


def csl_records(shared_dir: Path | str | None, *, blank_titles: bool = False) -> tuple[PatentRecord, ...]:
    rows = _jsonl(_require(shared_dir, CSL_FILE).resolve())
    return tuple(PatentRecord(id=r["id"], title="" if blank_titles else r["title"],
                              abstract=r["abstract"], source="csl") for r in rows)


def _heldout(record_id: str) -> bool:
    """Records the default encoder never trained on (``indexing.training.corpus.is_heldout``):
    known-item queries are restricted to them so the dense side is not scored on its
    training pairs."""
    try:
        from indexing.training.corpus import is_heldout
    except ImportError:  # no distilled encoder in this install: nothing was trained on
        return True
    return bool(is_heldout(record_id))


def _keyphrase_query(keywords: Iterable[str]) -> str:
    return " ".join(k.strip() for k in keywords if k and k.strip())


# --- task builders ----------------------------------------------------------------
def _demands_dev(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, DEMANDS_FILE).resolve())
    qrels = read_qrels(_require(shared_dir, DEMANDS_QRELS))
    demands = tuple(DemandRecord(id=r["id"], text=r["text"], title=r.get("title") or None,
                                 industry=r.get("industry") or None, source="demands_dev")
                    for r in rows)
    return Task(
        name="demands_dev",
        description="70 enterprise demands (paraphrased, synthetic) over 3,720 KPPatent-ZH "
                    "patents; graded 1-3 over the whole corpus",
        corpus=kppatent_records(shared_dir), queries={d.id: d.query_text for d in demands},
        qrels=qrels, query_groups={d.id: (d.industry,) for d in demands if d.industry},
        group_kind="industry", demands=demands)


def _kppatent_keyphrases(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, KPPATENT_FILE).resolve())
    queries = {f"kw:{r['id']}": _keyphrase_query(r.get("keywords") or ())
               for r in rows if r["split"] == "test" and r.get("keywords") and _heldout(r["id"])}
    queries = {q: t for q, t in queries.items() if t}
    return Task(
        name="kppatent_keyphrases",
        description="human keyphrases of each KPPatent-ZH test patent -> that patent "
                    "(3,720 patents, title + abstract)",
        corpus=kppatent_records(shared_dir), queries=queries,
        qrels={q: {q[3:]: 1} for q in queries})


def _kppatent_title(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, KPPATENT_FILE).resolve())
    queries = {f"title:{r['id']}": r["title"].strip() for r in rows
               if (r.get("title") or "").strip() and _heldout(r["id"])}
    return Task(
        name="kppatent_title",
        description="title of each KPPatent-ZH test patent -> that patent (corpus titles "
                    "blanked: abstract + claims)",
        corpus=kppatent_records(shared_dir, blank_titles=True), queries=queries,
        qrels={q: {q[6:]: 1} for q in queries})


def _csl_groups(rows: Iterable[dict[str, Any]], prefix: str) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}{r['id']}": (r["discipline"],) for r in rows}


def _csl_keywords(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, CSL_FILE).resolve())
    queries = {f"kw:{r['id']}": _keyphrase_query(r.get("keywords") or ()) for r in rows
               if _heldout(r["id"])}
    queries = {q: t for q, t in queries.items() if t}
    return Task(
        name="csl_keywords",
        description="CSL paper keywords -> that paper (2,000 papers, title + abstract)",
        corpus=csl_records(shared_dir), queries=queries,
        qrels={q: {q[3:]: 1} for q in queries},
        query_groups=_csl_groups(rows, "kw:"), group_kind="discipline")


def _csl_title(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, CSL_FILE).resolve())
    queries = {f"title:{r['id']}": r["title"] for r in rows if r.get("title") and _heldout(r["id"])}
    return Task(
        name="csl_title",
        description="CSL paper title -> that paper's abstract (titles blanked)",
        corpus=csl_records(shared_dir, blank_titles=True), queries=queries,
        qrels={q: {q[6:]: 1} for q in queries},
        query_groups=_csl_groups(rows, "title:"), group_kind="discipline")


def _csl_discipline(shared_dir: Path | str | None) -> Task:
    rows = _jsonl(_require(shared_dir, CSL_FILE).resolve())
    by_disc: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_disc[r["discipline"]].append(r["id"])
    queries, qrels, exclude = {}, {}, {}
    for r in rows:
        others = [d for d in by_disc[r["discipline"]] if d != r["id"]]
        if not others or not r.get("title") or not _heldout(r["id"]):
            continue
        qid = f"disc:{r['id']}"
        queries[qid] = r["title"]
        qrels[qid] = dict.fromkeys(others, 1)
        exclude[qid] = frozenset({r["id"]})
    return Task(
        name="csl_discipline",
        description="CSL paper title -> other papers of the same discipline (67 "
                    "disciplines; the paper itself excluded); read precision@10",
        corpus=csl_records(shared_dir), queries=queries, qrels=qrels,
        query_groups=_csl_groups(rows, "disc:"), group_kind="discipline", exclude=exclude,
        precision_ks=(10,))


def _demo(demo_dir: Path | str | None) -> Task:
    """The generated demo set: patents.*, demands.* and qrels.tsv in one folder."""
    if demo_dir is None:
        raise InputError("the demo task needs the folder written by `patmatch demo-data --out DIR`")
    demo_dir = Path(demo_dir)
    qrels_path = demo_dir / "qrels.tsv"
    if not qrels_path.exists():
        raise FileFormatError(f"expected {qrels_path} (written by `patmatch demo-data`)")
    from indexing.intake.ingest import read_records  # lazy: heavier than the loaders above

    patents = [r for f in _files(demo_dir, "patents") for r in read_records("patents", f)[0]]
    demands = [r for f in _files(demo_dir, "demands") for r in read_records("demands", f)[0]]
    qrels = read_qrels(qrels_path)
    judged = [d for d in demands if d.id in qrels]
    return Task(
        name="demo",
        description=f"generated demo data in {demo_dir}: each demand written from one "
                    "patent (grade 3), same-topic patents grade 1",
        corpus=tuple(patents), queries={d.id: d.query_text for d in judged},
        qrels=qrels, query_groups={d.id: (d.chain,) for d in judged if d.chain},
        group_kind="chain", demands=tuple(judged))


ZERO_OVERLAP_FILE = Path(__file__).resolve().parent / "data" / "zero_overlap.tsv"


def zero_overlap_pairs(path: Path = ZERO_OVERLAP_FILE) -> list[tuple[str, str, str]]:
    """(query id, patent id, demand text) of the zero-overlap set (ours, issue 20)."""
    rows = path.read_text("utf-8").splitlines()[1:]
    out = []
    for line in rows:
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise FileFormatError(f"{path}: expected query_id, patent_id, text; got {line!r}")
        out.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
    return out


def _zero_overlap(shared_dir: Path | str | None) -> Task:
    """Demands written as an SME would say them for held-out KPPatent-ZH patents, sharing
    almost no words with them (``benchmarks/zero_overlap_check.py`` measures it): where
    lexical overlap ends. Read MRR@10 and the share of right-patent-first (success@1)."""
    pairs = zero_overlap_pairs()
    return Task(
        name="zero_overlap",
        description=f"{len(pairs)} SME demands with almost no word in common with their "
                    "KPPatent-ZH patent (held-out patents), over 3,720 patents",
        corpus=kppatent_records(shared_dir), queries={q: t for q, _, t in pairs},
        qrels={q: {pid: 3} for q, pid, _ in pairs})


def _files(folder: Path, stem: str) -> list[Path]:
    """Every ``<stem>*`` data file in ``folder`` (the generator splits each side in several
    files with different formats and encodings)."""
    hits = sorted(p for p in folder.iterdir()
                  if p.name.startswith(stem) and p.suffix.lower() in
                  (".csv", ".tsv", ".xlsx", ".jsonl", ".parquet"))
    if not hits:
        raise FileFormatError(f"{folder}: expected {stem}*.csv/.tsv/.xlsx/.jsonl/.parquet files; "
                              f"found {sorted(p.name for p in folder.iterdir())}")
    return hits


TASKS: dict[str, Callable[[Path | str | None], Task]] = {
    "demands_dev": _demands_dev,
    "kppatent_keyphrases": _kppatent_keyphrases,
    "kppatent_title": _kppatent_title,
    "csl_keywords": _csl_keywords,
    "csl_title": _csl_title,
    "csl_discipline": _csl_discipline,
    "zero_overlap": _zero_overlap,
    "demo": _demo,
}
SHARED_TASKS: tuple[str, ...] = tuple(n for n in TASKS if n != "demo")


def load_task(name: str, shared_dir: Path | str | None = None, *, max_queries: int | None = None) -> Task:
    """Build task ``name``. ``shared_dir`` is ../shared/data (found automatically when
    None), or for ``demo`` the generated demo-data folder."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    if shared_dir is None and name != "demo":
        from patmatch.settings import shared_data_dir

        shared_dir = shared_data_dir()
    return TASKS[name](shared_dir).subset(max_queries)


def custom_task(corpus_path: str | Path, queries_path: str | Path, qrels_path: str | Path,
                *, name: str = "custom") -> Task:
    """A task from files: patents (any ingest format), queries (TSV/JSONL), qrels TSV."""
    from indexing.intake.ingest import read_records

    corpus, rejects = read_records("patents", corpus_path)
    if not corpus:
        raise FileFormatError(f"{corpus_path}: no valid patent rows ({len(rejects)} rejected)")
    queries = read_queries(queries_path)
    qrels = read_qrels(qrels_path)
    missing = [q for q in qrels if q not in queries]
    if len(missing) == len(qrels):
        raise InputError(f"no qrels query id appears in {queries_path}; e.g. {missing[:3]}")
    return Task(name=name, description=f"{corpus_path} / {queries_path} / {qrels_path}",
                corpus=tuple(corpus), queries=queries, qrels=qrels)
