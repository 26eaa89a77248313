"""`patmatch label FILE --out FILE`: label a patent or demand file for analysts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_KINDS = ("auto", "patents", "demands")


def _guess_kind(columns: list[str]) -> str:
    cols = {c.strip().lower() for c in columns}
    if {"abstract", "摘要", "ipc", "ipc分类号", "申请号", "公开号"} & cols:
        return "patents"
    return "demands"


def _read_fallback(kind: str, path: Path) -> tuple[list[Any], list[Any]]:
    """Read with polars when indexing.intake.ingest is not available (columns as canonical names)."""
    import types

    import polars as pl

    from patmatch.errors import FileFormatError, MissingColumnError

    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            df = pl.read_ndjson(path)
        elif suffix == ".json":
            df = pl.read_json(path)
        elif suffix in (".xlsx", ".xls"):
            df = pl.read_excel(path)
        elif suffix == ".parquet":
            df = pl.read_parquet(path)
        else:
            df = pl.read_csv(path, infer_schema_length=0, encoding="utf8-lossy")
    except Exception as exc:  # polars raises several unrelated types for bad files
        raise FileFormatError(f"expected a readable CSV/XLSX/JSONL/Parquet file, could not read {path}: {exc}",
                              details={"path": str(path)}) from None
    if kind == "auto":
        kind = _guess_kind(df.columns)
    need = ("id", "abstract") if kind == "patents" else ("id", "text")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise MissingColumnError(f"expected columns {list(need)} in {path}, missing {missing}; "
                                 f"got {df.columns}", details={"path": str(path)})
    out = []
    for row in df.iter_rows(named=True):
        rec = dict(row)
        ipc = rec.get("ipc")
        if kind == "patents":
            from labeling_spec.ipc import split_ipc_field

            rec["ipc"] = split_ipc_field(ipc)
            rec.setdefault("title", "")
        out.append(types.SimpleNamespace(**{k: (str(v) if k == "id" else v) for k, v in rec.items()}))
    return out, []


def _write(rows: list[dict[str, Any]], out: Path) -> None:
    import json

    import polars as pl

    from patmatch.atomic_io import atomic_open
    from patmatch.table_io import write_table

    from patmatch.atomic_io import PRIVATE

    # labels quote the records (problem/means/effect and evidence from a demand's text,
    # which may be confidential): owner-only, like every file holding records
    if out.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with atomic_open(out, mode=PRIVATE) as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    flat = [{k: ("；".join(map(str, v)) if isinstance(v, list) and k != "top3"
                 else json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
             for k, v in r.items()} for r in rows]
    write_table(pl.DataFrame(flat, infer_schema_length=None), out, mode=PRIVATE)


labels_app = typer.Typer(help="Check label files against the labeling spec.", no_args_is_help=True)


_TABLES = (".csv", ".tsv", ".xlsx", ".xls", ".parquet")


def _read_label_table(path: Path) -> list[dict[str, Any]]:
    """Label rows of a table written by ``patmatch label --out X.csv|xlsx|parquet``, as
    cells (typed back by ``labels_from_cells`` once the side is known)."""
    from indexing.intake.formats import read_delimited, read_excel, read_parquet

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        return read_excel(path)[1]
    if suffix == ".parquet":
        return read_parquet(path)[1]
    return read_delimited(path, "\t" if suffix == ".tsv" else ",")[1]


def _read_label_rows(path: Path) -> list[dict[str, Any]]:
    """Label rows from .jsonl (one object a line), .json (a list) or a table
    (.csv/.tsv/.xlsx/.parquet as ``patmatch label`` writes it); FileFormatError otherwise."""
    import json

    from patmatch.errors import FileFormatError

    if path.suffix.lower() in _TABLES:
        return _read_label_table(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"expected a UTF-8 label file (.jsonl/.json), could not read {path}: "
                              f"{exc}", details={"path": str(path)}) from None
    rows: list[Any] = []
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            rows = data if isinstance(data, list) else [data]
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: expected JSON lines of label objects (as written by "
                              f"`patmatch label --out X.jsonl`), line {exc.lineno}: {exc.msg}",
                              details={"path": str(path)}) from None
    return rows


def validate_file(path: Path, side: str) -> tuple[int, list[str]]:
    """(rows, problems) of a label file; each problem names the row and record."""
    from labeling_spec.validate import labels_from_cells, validate_labels

    table = path.suffix.lower() in _TABLES
    rows = _read_label_rows(path)
    problems: list[str] = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            problems.append(f"第 {i} 行: 应为标引对象（JSON object），实为 {type(row).__name__}")
            continue
        kind = side if side != "auto" else ("demand" if "required_trl" in row or "budget" in row
                                            else "patent")
        if table:
            row = labels_from_cells(row, kind)
        for p in validate_labels(row, kind):
            problems.append(f"第 {i} 行（{row.get('record_id')!s}）: {p}")
    return len(rows), problems


@labels_app.command("validate")
def labels_validate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="labels .jsonl/.json, or .csv/.xlsx/.parquet as `patmatch label` writes them"),
    kind: str = typer.Option("auto", "--kind", help="patent | demand | auto"),
) -> None:
    """Check every label against spec/fields.yaml and the taxonomy; exit 1 on problems."""
    from api.cli.common import cli_errors
    from patmatch.errors import InputError

    @cli_errors
    def run() -> None:
        if kind not in ("auto", "patent", "demand"):
            raise InputError(f"expected --kind patent, demand or auto, got {kind!r}")
        n, problems = validate_file(file, kind)
        for p in problems[:200]:
            typer.echo(p)
        if len(problems) > 200:
            typer.echo(f"…… 另有 {len(problems) - 200} 个问题")
        typer.echo(f"检查 {n} 条标引：{'全部符合规范' if not problems else f'{len(problems)} 个问题'}",
                   err=True)
        if problems:
            raise typer.Exit(1)

    run()


def register(app: typer.Typer) -> None:
    """Attach ``label``, ``label-train`` and ``labels validate`` to the main app."""
    from api.cli.common import cli_errors

    app.add_typer(labels_app, name="labels")

    @app.command("label")
    @cli_errors
    def label(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="patent or demand file (CSV/XLSX/JSONL/Parquet)"),
        out: Path = typer.Option(..., "--out", "-o", help="output file: .jsonl, .csv, .xlsx or .parquet"),
        kind: str = typer.Option("auto", "--kind", help="patents | demands | auto (from the columns)"),
        spec: Path | None = typer.Option(None, "--spec", help="spec directory (taxonomy/rules; classifier/ if trained)"),
    ) -> None:
        """Label every record (chains with evidence, problem/means/effect, TRL, grade); never drops one."""
        from patmatch.errors import InputError
        from labeling_spec import Labeler

        from api.cli.common import progress_bar

        if kind not in _KINDS:
            raise InputError(f"expected --kind to be one of {list(_KINDS)}, got {kind!r}")
        if out.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            from patmatch.table_io import check_table_suffix

            check_table_suffix(out)  # before labelling, not after
        try:
            from indexing.intake.ingest import read_records  # the canonical reader (aliases, encodings, validation)
        except ImportError:
            read_records = None
        if read_records is None:
            records, rejects = _read_fallback(kind, file)
            if kind == "auto":
                kind = "patents" if records and hasattr(records[0], "abstract") else "demands"
        elif kind == "auto":
            from patmatch.errors import MissingColumnError

            try:  # a demand file has no abstract column: the patent reader refuses it
                records, rejects = read_records("patents", file)
                kind = "patents"
            except MissingColumnError:
                records, rejects = read_records("demands", file)
                kind = "demands"
        else:
            records, rejects = read_records(kind, file)
        tokenize = None
        try:
            from indexing.text.tokenizer import ChineseTokenizer

            tokenize = ChineseTokenizer().tokenize
        except ImportError:
            pass
        labeler = Labeler.load(spec, tokenize=tokenize)
        fn = labeler.label_patents if kind == "patents" else labeler.label_demands
        labels = []
        with progress_bar(len(records), "标引", unit="条") as update:
            for lo in range(0, len(records), 200):
                labels += fn(records[lo:lo + 200])
                update(min(200, len(records) - lo))
        _write([lab.to_dict() for lab in labels], out)
        for warning in labeler.warnings:
            typer.echo(f"警告：{warning}", err=True)
        unlabeled = sum(1 for lab in labels if lab.abstained)
        typer.echo(f"已标引 {len(labels)} 条{'专利' if kind == 'patents' else '需求'}"
                   f"（{unlabeled} 条未归入产业链，{len(rejects)} 行被拒收），"
                   f"标引规范版本 {labeler.version}，写入 {out}")

    @app.command("label-train")
    @cli_errors
    def label_train(
        patents: list[Path] = typer.Option([], "--patents", exists=True, dir_okay=False,
                                            help="patent files with IPC (repeatable); their IPC-rule labels train the classifier"),
        sample: int | None = typer.Option(None, "--sample", help="use only this many IPC titles (default: all 76k)"),
        out: Path | None = typer.Option(None, "--out", help="classifier dir (default: <PATMATCH_HOME>/models/labeler/classifier)"),
        tokenizer: str = typer.Option("project", "--tokenizer", help="project (jieba words) | bigram"),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Train the text classifier for records without IPC (weak supervision from the IPC rules)."""
        from labeling_spec import Labeler
        from labeling_spec.evaluate import title_records
        from labeling_spec.labeler import patent_text, default_classifier_dir
        from patmatch.errors import InputError

        if tokenizer not in ("project", "bigram"):
            raise InputError(f"expected --tokenizer project or bigram, got {tokenizer!r}")
        tokenize = None
        if tokenizer == "project":
            from indexing.text.tokenizer import ChineseTokenizer

            tokenize = ChineseTokenizer().tokenize
        labeler = Labeler.load(tokenize=tokenize, classifier=None)
        titles = title_records(seed=seed, sample=sample)
        held: list = []
        if patents:
            from indexing.intake.ingest import read_records

            for path in patents:
                recs, _ = read_records("patents", path)
                held += recs
        if held:
            extra = [(patent_text(r), ls) for r, ls in zip(titles, labeler.weak_labels(titles), strict=True)]
            report = labeler.fit_classifier(held, holdout=0.2, seed=seed, extra=extra,
                                            data=f"{len(titles)} IPC titles + 80% of {len(held)} patents")
        else:
            report = labeler.fit_classifier(titles, holdout=0.2, seed=seed, data=f"{len(titles)} IPC titles")
        target = out or default_classifier_dir()
        labeler.classifier.save(target)
        typer.echo(f"分类器已保存到 {target}：留出集 micro 精确率 {report.micro_precision:.3f}，"
                   f"召回率 {report.micro_recall:.3f}，前 3 召回率 {report.top3_recall:.3f}"
                   f"（训练 {report.n_train} 条，测试 {report.n_test} 条）")
        for chain, m in report.per_chain.items():
            typer.echo(f"  {chain:20s} 精确率 {m.precision:.3f} 召回率 {m.recall:.3f} 样本 {m.support}")
