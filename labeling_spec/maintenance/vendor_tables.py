"""Regenerate the vendored official tables in ``labeling_spec/tables/`` from ``../shared/data``.

Run ``python -m labeling_spec.maintenance.vendor_tables [--shared DIR]``. It writes:

- ``ipc_zh_titles.tsv.gz``: IPC codes (section .. subgroup) with their Chinese titles
  (WIPO IPC 2026.01, CNIPA Chinese edition; CC BY 4.0).
- ``sei_ipc_2021_rules.tsv``: the CNIPA 2021 SEI <-> IPC concordance as rules
  (third-party transcription; see README for the spot-check notes).
- ``ipc_terms.txt.gz``: clean domain terms split out of the IPC titles (for the
  tokenizer's domain dictionary; ``labeling_spec.domain_terms()`` adds SEI and chain terms).
- ``SOURCES.json``: provenance and checksums of the inputs.

Only classification tables are vendored; no corpus text (patents, papers, demands) is.
Outputs are written atomically and deterministically (gzip mtime 0), so re-running on the
same inputs produces byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from patmatch.atomic_io import atomic_write_bytes
from patmatch.errors import DependencyError

TABLES_DIR = Path(__file__).resolve().parents[1] / "tables"

# Cross-references like "入E02B11/02", "（G05G5/28优先）" carry codes, not terms.
_REF = re.compile(r"[（(][^（）()]*[A-H]\d{2}[A-Z][^（）()]*[)）]|入?[A-H]\d{2}[A-Z]?\s*\d*(/\d+)?")
_SPLIT = re.compile(r"[，,。；;：:、（）()“”\"'《》〔〕［］\[\]\s/·．.\-—～~]+|或|和|及|与|的|以及|并且|或者|即|如|等")
# Leading function words that make a phrase a clause rather than a term.
# Only multi-character leads: stripping one character (有, 用, 以) would cut real words.
_LEAD = tuple(sorted((
    "不包括", "特别适用于", "适用于", "专门用于", "专门适用于", "用于", "带有", "具有", "包括",
    "包含", "采用", "利用", "通过", "使用", "例如", "一般", "专门", "特殊", "作为", "特别是",
    "其他", "本小类", "有关", "所述", "借助", "装有", "各种", "不同", "相同", "一个", "两个",
    "多个", "若干", "一种", "至少", "每个", "一些", "仅有", "只有", "其中",
), key=len, reverse=True))
_BAD = ("优先", "小类", "大组", "小组", "其他", "所述", "不包含", "本组", "这些", "上述", "特征", "之一", "若干")
_KEEP_LEAD = ("不锈", "对称", "对位", "对流", "向量", "以太", "几何", "在线", "仅读", "在役")
_STOP_TERMS = frozenset(("为了", "一些", "一种", "一个", "两个", "多个", "若干", "至少", "主要", "相应"))
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


def _strip_lead(term: str) -> str:
    changed = True
    while changed:
        changed = False
        for lead in _LEAD:
            if term.startswith(lead) and len(term) - len(lead) >= 2:
                term = term[len(lead):]
                changed = True
    return term


def split_title_terms(title: str) -> list[str]:
    """Split one IPC Chinese title into candidate terms (2..8 CJK characters)."""
    text = _REF.sub(" ", title)
    out: list[str] = []
    for part in _SPLIT.split(text):
        part = _strip_lead(part.strip())
        if not (2 <= len(part) <= 8) or not _CJK.match(part):
            continue
        if any(b in part for b in _BAD) or part.endswith(("于", "时", "中", "上", "下", "内", "目", "用", "是", "或")):
            continue
        if part[0] in "其他不该此被把将使从由对向以为在仅只几更" and not part.startswith(_KEEP_LEAD):
            continue
        if part.startswith("用") and not part.startswith("用户") or part in _STOP_TERMS:
            continue
        out.append(part)
    return out


def ipc_terms(titles: Iterable[str], *, min_count_long: int = 2) -> list[str]:
    """Terms from IPC titles: 2-4 characters always; 5-8 only when seen in >= 2 titles."""
    counts: Counter[str] = Counter()
    for title in titles:
        counts.update(set(split_title_terms(title)))
    keep = [t for t, c in counts.items() if len(t) <= 4 or c >= min_count_long]
    return sorted(keep)


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _write_vendored(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data, mode=0o644)  # vendored tables are shared, readable files


def _gz(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(shared: Path, out_dir: Path = TABLES_DIR) -> dict[str, int]:
    """Regenerate every vendored table from ``shared`` (the ../shared/data folder)."""
    ipc_top = shared / "ipc_zh" / "ipc_zh_section_class_subclass.tsv"
    ipc_groups = shared / "ipc_zh" / "ipc_zh_groups.tsv"
    sei = shared / "sei_ipc_2021" / "sei_ipc_2021_rules.tsv"
    missing = [str(p) for p in (ipc_top, ipc_groups, sei) if not p.is_file()]
    if missing:
        raise DependencyError(
            "expected the official tables under the shared data folder; missing: "
            + ", ".join(missing),
            details={"shared": str(shared)},
        )
    rows = _read_tsv(ipc_top) + _read_tsv(ipc_groups)
    rows = [r for r in rows if r.get("code") and r.get("title_zh")]
    lines = ["code\tlevel\ttitle_zh"] + [
        f"{r['code'].strip()}\t{r['level'].strip()}\t{' '.join(r['title_zh'].split())}" for r in rows
    ]
    _write_vendored(out_dir / "ipc_zh_titles.tsv.gz", _gz("\n".join(lines) + "\n"))

    sei_rows = _read_tsv(sei)
    cols = ["sei_top_code", "sei_top_name", "sei_code", "sei_name", "pdf_page", "rule_idx",
            "ipc_patterns", "ipc_exclusions", "keywords"]
    sei_lines = ["\t".join(cols)] + ["\t".join((r.get(c) or "").strip() for c in cols) for r in sei_rows]
    _write_vendored(out_dir / "sei_ipc_2021_rules.tsv", ("\n".join(sei_lines) + "\n").encode("utf-8"))

    terms = ipc_terms(r["title_zh"] for r in rows)
    _write_vendored(out_dir / "ipc_terms.txt.gz", _gz("\n".join(terms) + "\n"))

    sources = {
        "ipc_zh_titles.tsv.gz": {
            "from": ["ipc_zh/ipc_zh_section_class_subclass.tsv", "ipc_zh/ipc_zh_groups.tsv"],
            "sha256_inputs": [_sha(ipc_top), _sha(ipc_groups)],
            "licence": "WIPO IPC (CC BY 4.0), CNIPA Chinese edition; parsed by github Jingyou-design/cr_zl_v2",
            "rows": len(rows),
        },
        "sei_ipc_2021_rules.tsv": {
            "from": ["sei_ipc_2021/sei_ipc_2021_rules.tsv"],
            "sha256_inputs": [_sha(sei)],
            "licence": "CNIPA official publication 《战略性新兴产业分类与国际专利分类参照关系表（2021）（试行）》; "
                       "third-party transcription (github vvangpc/pr-re)",
            "rows": len(sei_rows),
        },
        "ipc_terms.txt.gz": {"derived_from": "ipc_zh_titles.tsv.gz", "rows": len(terms)},
    }
    _write_vendored(out_dir / "SOURCES.json",
                  (json.dumps(sources, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return {"ipc_titles": len(rows), "sei_rules": len(sei_rows), "ipc_terms": len(terms)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None, help="the ../shared/data folder")
    parser.add_argument("--out", type=Path, default=TABLES_DIR)
    args = parser.parse_args(argv)
    shared = args.shared
    if shared is None:
        from patmatch.settings import shared_data_dir

        shared = shared_data_dir()
        if shared is None:
            parser.error("../shared/data not found; pass --shared DIR")
    counts = vendor(shared, args.out)
    print(json.dumps(counts, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
