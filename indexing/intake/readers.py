"""Read raw patent/demand tables (CSV in any common Chinese encoding, XLSX, JSONL, Parquet).

``read_table(path, kind)`` returns a ``RawTable``: one dict per data row with canonical
column names (header aliases resolved), the 1-based row number a person would look for,
and the row exactly as it arrived (for the rejects file). Blank rows are skipped and
counted, never silently: they carry no data.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from patmatch.errors import EncodingError, FileFormatError, MissingColumnError

from indexing.intake.normalize import to_half_width

Kind = Literal["patents", "demands", "transfers"]
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".xls": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet"}

# canonical field -> accepted headers (compared after header_key). Documented in
# docs/ingestion.md; the CNKI scraper names (com, sql, quote, ChDiv_summary ...) are
# what the public CNKI export tools write.
PATENT_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "公开号", "公告号", "公开(公告)号", "公开公告号", "申请号", "专利号", "publication_number",
           "publication number", "pub_no", "application_number", "patent_id", "专利id"),
    "title": ("title", "标题", "名称", "专利名称", "发明名称", "题名", "patent_title"),
    "abstract": ("abstract", "摘要", "摘要文本", "ChDiv_summary", "summary", "中文摘要"),
    "claims": ("claims", "权利要求", "权利要求书", "主权项", "首项权利要求", "claim_text", "claim"),
    "ipc": ("ipc", "IPC分类号", "IPC", "主分类号", "分类号", "IPC主分类号", "ipc_codes", "labels",
            "cpc", "CPC分类号"),
    "applicant": ("applicant", "申请人", "专利权人", "申请(专利权)人", "申请（专利权）人", "权利人",
                  "assignee", "com", "当前权利人"),
    "applicant_type": ("applicant_type", "申请人类型", "权利人类型", "机构类型"),
    "legal_status": ("legal_status", "法律状态", "当前法律状态", "专利状态", "status"),
    "application_date": ("application_date", "申请日", "申请日期", "filing_date", "sql"),
    "publication_date": ("publication_date", "公开日", "公告日", "公开(公告)日", "公开日期",
                         "授权公告日", "quote", "pub_date"),
    "region": ("region", "地区", "省市", "申请人地址", "所在地区", "地域", "省份", "城市"),
    "inventors": ("inventors", "发明人", "设计人", "author", "authors", "inventor"),
    "open_license": ("open_license", "开放许可", "是否开放许可", "open licence"),
    "license_fee": ("license_fee", "许可费", "许可费用", "开放许可费", "使用费", "许可使用费",
                    "使用费标准"),
    "source": ("source", "来源", "数据来源", "public"),
    "problem": ("problem", "技术问题", "解决的问题", "要解决的技术问题"),
    "means": ("means", "技术手段", "技术方案", "解决手段"),
    "effect": ("effect", "功能效果", "有益效果", "技术效果"),
    "trl": ("trl", "技术成熟度", "成熟度", "成熟等级", "技术就绪度"),
    "citations": ("citations", "被引次数", "被引用次数", "被引证次数", "cited_by", "citation_count"),
    "transfer_count": ("transfer_count", "转让次数", "transfers", "权利转移次数"),
    "license_count": ("license_count", "许可次数", "licenses", "许可备案次数"),
    "license_mode": ("license_mode", "许可方式", "许可类型", "交易方式", "license_type"),
    "license_fee_wan": ("license_fee_wan", "许可费金额", "许可费（万元）", "许可费(万元)",
                        "费用金额", "fee_amount"),
    "license_fee_period": ("license_fee_period", "计费周期", "费用周期", "fee_period"),
    "license_payment": ("license_payment", "支付方式", "付费方式", "payment_mode"),
}
DEMAND_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "需求编号", "需求id", "编号", "demand_id", "序号"),
    "text": ("text", "需求描述", "需求内容", "需求详情", "技术需求", "描述", "需求说明", "description"),
    "title": ("title", "需求名称", "需求标题", "标题", "项目名称", "name"),
    "enterprise": ("enterprise", "企业名称", "需求企业", "企业", "单位名称", "需求单位", "company"),
    "industry": ("industry", "所属行业", "行业", "行业领域", "技术领域"),
    "chain": ("chain", "产业链", "所属产业链", "chain_id"),
    "region": ("region", "地区", "所在地区", "所在地", "区县", "城市"),
    "budget": ("budget", "预算", "预算金额", "拟投入资金", "投入预算", "经费预算", "资金预算"),
    "cooperation_mode": ("cooperation_mode", "合作方式", "合作模式", "cooperation"),
    "required_trl": ("required_trl", "技术成熟度", "需求成熟度", "trl", "要求成熟度"),
    "deadline": ("deadline", "截止日期", "截止时间", "有效期", "需求截止日期"),
    "confidential": ("confidential", "是否保密", "保密"),
    "contact_name": ("contact_name", "联系人", "联系人姓名", "contact"),
    "contact_phone": ("contact_phone", "联系电话", "电话", "手机", "手机号", "联系方式", "phone"),
    "contact_email": ("contact_email", "邮箱", "电子邮箱", "联系邮箱", "email", "e-mail"),
    "source": ("source", "来源", "数据来源"),
}
# CNIPA's 专利权转移 / 专利实施许可合同备案 / 专利权质押登记 notices and platform deal exports
TRANSFER_ALIASES: dict[str, tuple[str, ...]] = {
    "patent_id": ("patent_id", "专利号", "申请号", "专利申请号", "公开号", "公告号", "公开(公告)号",
                  "patent_number", "patent", "application_number"),
    "event_type": ("event_type", "事件类型", "转化方式", "交易类型", "变更类型", "类型", "交易方式",
                   "事务类型", "type"),
    "license_kind": ("license_kind", "许可种类", "许可类型", "许可方式"),
    "effective_date": ("effective_date", "生效日", "生效日期", "变更生效日", "登记生效日", "备案日期",
                       "备案日", "登记日", "登记日期", "合同备案日", "日期", "成交日期", "date"),
    "assignor": ("assignor", "转让人", "让与人", "许可人", "让与人/许可人/出质人", "出质人",
                 "变更前权利人", "原权利人", "转出方", "licensor", "pledgor"),
    "assignee": ("assignee", "受让人", "被许可人", "受让人/被许可人/质权人", "质权人", "变更后权利人",
                 "现权利人", "受让方", "承接方", "licensee", "pledgee"),
    "assignor_address": ("assignor_address", "转让人地址", "让与人地址", "许可人地址", "出质人地址",
                         "变更前地址", "转出方地址"),
    "assignee_address": ("assignee_address", "受让人地址", "被许可人地址", "质权人地址", "变更后地址",
                         "受让方地址", "承接方地址"),
    "amount_wan": ("amount_wan", "合同金额", "合同金额(万元)", "金额", "金额(万元)", "交易金额",
                   "交易金额(万元)", "成交金额", "质押金额", "amount"),
    "source": ("source", "来源", "数据来源"),
    "source_ref": ("source_ref", "备案号", "合同备案号", "登记号", "质押登记号", "交易编号", "deal_id"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "patents": ("id", "title", "abstract"), "demands": ("id", "text"),
    "transfers": ("patent_id", "event_type", "effective_date", "assignor", "assignee")}
# columns that carry a publication number inside a URL (CNKI: ...&filename=CN108982325A)
URL_ID_HEADERS = ("href", "url", "链接", "公开链接", "详情链接", "link")
_URL_ID = re.compile(r"(?:filename=|/)((?:CN|WO|US|EP|JP|KR)\d{5,}[A-Z]?\d?)", re.IGNORECASE)


def header_key(h: str) -> str:
    return re.sub(r"[\s_\-()（）:：]+", "", to_half_width(str(h)).strip().lower())


def aliases_for(kind: Kind) -> dict[str, tuple[str, ...]]:
    if kind == "transfers":
        return TRANSFER_ALIASES
    return PATENT_ALIASES if kind == "patents" else DEMAND_ALIASES


@dataclass
class RawTable:
    path: Path
    columns: dict[str, str]            # original header -> canonical field
    ignored_columns: list[str]
    rows: list[tuple[int, dict[str, Any], dict[str, Any]]]  # (row number, canonical, raw)
    blank_rows: int = 0
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


# --- decoding --------------------------------------------------------------------------
def decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        _refuse_other_cjk_encoding(data, path)
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise EncodingError(
                f"{path.name}: cannot decode as UTF-8, UTF-8 with BOM, GBK or GB18030 "
                f"(first bad byte at offset {utf8_err.start}); re-save the file as UTF-8",
                details={"path": str(path)},
            ) from None


# Big5 and Shift-JIS bytes mostly decode as GB18030 too, into mojibake; charset-normalizer
# (a dependency of requests) tells them apart. Measured on short demand rows: Big5 -> big5,
# Shift-JIS -> cp932, GBK/GB18030 -> gb18030 (first guess, chaos 0.0), in ~10 ms.
_OTHER_CJK = {"big5": "Big5（繁体中文）", "cp950": "Big5（繁体中文）", "big5hkscs": "Big5-HKSCS",
              "shift_jis": "Shift-JIS（日文）", "cp932": "Shift-JIS（日文）",
              "euc_jp": "EUC-JP（日文）", "iso2022_jp": "ISO-2022-JP（日文）",
              "euc_kr": "EUC-KR（韩文）", "cp949": "EUC-KR（韩文）"}
_GB = {"gb18030", "gbk", "gb2312", "hz"}


def _refuse_other_cjk_encoding(data: bytes, path: Path) -> None:
    """Raise EncodingError when a non-UTF-8 file looks like another CJK encoding than GB."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with requests
        return
    results = list(from_bytes(data[: 256 * 1024]))
    if not results:
        return
    best = results[0]
    if best.encoding in _GB or any(m.encoding in _GB and m.chaos <= best.chaos for m in results):
        return
    if best.encoding in _OTHER_CJK:
        raise EncodingError(
            f"{path.name}: 编码看起来是 {_OTHER_CJK[best.encoding]}，不是 UTF-8 或 GBK/GB18030"
            f"（检测置信度 chaos={best.chaos:.2f}）；按 GB18030 读取会产生乱码，已拒绝。请另存为 UTF-8 后再导入",
            details={"path": str(path), "likely_encoding": best.encoding,
                     "chaos": round(float(best.chaos), 3)})


def _frame_rows(df: Any) -> list[dict[str, Any]]:
    return df.to_dicts()


def _read_delimited(path: Path, sep: str) -> tuple[list[str], list[dict[str, Any]], str]:
    import polars as pl

    text, enc = decode_bytes(path.read_bytes(), path)
    if not text.strip():
        raise FileFormatError(f"{path.name}: the file is empty; expected a header row and data rows")
    if sep == "," and _looks_tab_separated(text):
        sep = "\t"
    try:
        # strict about ragged lines: truncating them would silently lose cells
        df = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=sep, infer_schema=False,
                         truncate_ragged_lines=False, quote_char='"')
    except pl.exceptions.PolarsError:
        return (*_read_ragged(text, sep), enc)
    return df.columns, _frame_rows(df), enc


def _looks_tab_separated(text: str) -> bool:
    head = text.split("\n", 1)[0]
    return "\t" in head and "," not in head


def _read_ragged(text: str, sep: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows longer than the header (a title line above the table, a stray comma): the
    extra cells get ``column_N`` names so they stay in the raw row, nothing is cut."""
    lines = list(csv.reader(io.StringIO(text), delimiter=sep))
    width = max(len(r) for r in lines)
    header = [h if h else f"column_{i + 1}" for i, h in enumerate(lines[0])]
    header += [f"column_{i + 1}" for i in range(len(header), width)]
    rows = [{header[i]: (v if v != "" else None) for i, v in enumerate(r)} for r in lines[1:]]
    return header, rows


def _read_excel(path: Path) -> tuple[list[str], list[dict[str, Any]], str | None]:
    import polars as pl

    try:
        # infer_schema_length=0: every cell as text, so ids like 0012 and dates survive
        df = pl.read_excel(path, sheet_id=1, infer_schema_length=0, drop_empty_rows=False,
                           raise_if_empty=False)
    except Exception as exc:  # fastexcel raises its own types for corrupt/encrypted files
        raise FileFormatError(f"{path.name}: not a readable Excel workbook ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return df.columns, _frame_rows(df), None


def _refuse_data_on_other_sheets(path: Path, kind: Kind) -> None:
    """Only the first sheet is read. A later sheet whose first rows carry this kind's
    columns would be silently ignored: refuse the workbook and name the sheet (sheets
    without such columns, e.g. 填表说明, are left alone)."""
    import polars as pl

    try:
        sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=0, drop_empty_rows=True,
                               raise_if_empty=False, has_header=False)
    except Exception:  # noqa: BLE001 - the first sheet was readable; this is a check only
        return
    names = list(sheets)
    for name in names[1:]:
        df = sheets[name]
        head = [v for row in df.head(6).rows() for v in row if v is not None]
        if df.height >= 2 and _known(kind, head) & {"id", "text", "title", "abstract"}:
            raise FileFormatError(
                f"{path.name}: 工作表 “{name}” 也有{'需求' if kind == 'demands' else '专利'}数据，"
                f"但只读取第一个工作表 “{names[0]}”；请把数据合并到第一个工作表，或每个工作表另存为一个文件",
                details={"path": str(path), "sheets": names, "ignored_sheet": name})


def _read_jsonl(path: Path) -> tuple[list[str], list[dict[str, Any]], str]:
    text, enc = decode_bytes(path.read_bytes(), path)
    stripped = text.lstrip()
    if stripped.startswith("["):  # a plain JSON array of objects is accepted too
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"{path.name}: invalid JSON ({exc})") from None
        lines = [(i + 1, obj) for i, obj in enumerate(items)]
    else:
        lines = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                lines.append((i, {}))
                continue
            try:
                lines.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                # one broken line becomes a reject, not a failed file
                lines.append((i, {"__error__": f"invalid JSON on line {i}: {exc.msg}",
                                  "__raw__": line[:2000]}))
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for _, obj in lines:
        if not isinstance(obj, dict):
            obj = {"__error__": f"expected a JSON object per line, got {type(obj).__name__}"}
        for k in obj:
            if k not in columns and not k.startswith("__"):
                columns.append(k)
        rows.append(obj)
    if not any(rows):
        raise FileFormatError(f"{path.name}: no data rows (only blank lines); expected one JSON "
                              "object per line")
    return columns, rows, enc


def _read_parquet(path: Path) -> tuple[list[str], list[dict[str, Any]], None]:
    import polars as pl

    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise FileFormatError(f"{path.name}: not a readable Parquet file ({exc})") from None
    return df.columns, _frame_rows(df), None


# --- packed text (CPC CSV: "Title: ...\nKeywords: ...\nAbstract: ..." or "a [SEP] b [SEP] c")
_PACKED = re.compile(r"^\s*Title:\s*(?P<title>.*?)\s*(?:Keywords:.*?)?\s*Abstract:\s*(?P<abstract>.*)$",
                     re.DOTALL)


def unpack_text(text: str) -> tuple[str | None, str | None]:
    m = _PACKED.match(text)
    if m:
        return m["title"].strip() or None, m["abstract"].strip() or None
    parts = [p.strip() for p in text.split("[SEP]")]
    if len(parts) >= 2:
        return parts[0] or None, parts[-1] or None
    return None, text.strip() or None


def read_table(path: str | Path, kind: Kind, *, auto_id: bool = False) -> RawTable:
    """Read one file. ``auto_id``: a file without any id column gets ids ``<stem>-<row>``
    (batch matching of a plain list of demand texts); ingest never uses it."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"file not found: {path}", details={"path": str(path)})
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise FileFormatError(
            f"{path.name}: unknown file type {path.suffix or '(no suffix)'!r}; expected one of "
            f"{sorted(set(SUFFIXES))}", details={"path": str(path)})
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path.name}: the file is empty; expected a header row and data rows")
    encoding: str | None
    if fmt in ("csv", "tsv"):
        headers, rows, encoding = _read_delimited(path, "\t" if fmt == "tsv" else ",")
        first_row = 2  # row 1 is the header, as a spreadsheet shows it
    elif fmt == "xlsx":
        headers, rows, encoding = _read_excel(path)
        _refuse_data_on_other_sheets(path, kind)
        first_row = 2
    elif fmt == "jsonl":
        headers, rows, encoding = _read_jsonl(path)
        first_row = 1
    else:
        headers, rows, encoding = _read_parquet(path)
        first_row = 1
    if fmt in ("csv", "tsv", "xlsx"):
        headers, rows, first_row = _find_header(kind, headers, rows, first_row)
    return map_columns(path, kind, headers, rows, first_row=first_row, encoding=encoding,
                       auto_id=auto_id)


def _known(kind: Kind, names: Iterable[Any]) -> set[str]:
    aliases = aliases_for(kind)
    lookup = {header_key(a): f for f, names_ in aliases.items() for a in names_}
    return {lookup[k] for k in (header_key(str(n)) for n in names if n is not None) if k in lookup}


def _find_header(kind: Kind, headers: list[str], rows: list[dict[str, Any]],
                 first_row: int) -> tuple[list[str], list[dict[str, Any]], int]:
    """Office spreadsheets often put a title line (企业技术需求汇总表) or notes above the
    real header. When the first line does not name the required columns but one of the
    next 10 lines does, that line is the header and the rows above it are dropped."""
    required = set(REQUIRED[kind])
    if required <= _known(kind, headers):
        return headers, rows, first_row
    keys = list(dict.fromkeys([*headers, *(key for r in rows for key in r)]))
    for k, row in enumerate(rows[:10]):
        cells = [row.get(key) for key in keys]
        if required - {"id"} <= _known(kind, cells):
            names, seen = [], set()
            for i, c in enumerate(cells):
                name = str(c).strip() if c not in (None, "") else f"column_{i + 1}"
                name = name if name not in seen else f"{name}_{i + 1}"
                seen.add(name)
                names.append(name)
            body = [{names[i]: r.get(key) for i, key in enumerate(keys)} for r in rows[k + 1:]]
            return names, body, first_row + k + 1
    return headers, rows, first_row


def _is_blank(row: dict[str, Any]) -> bool:
    for v in row.values():
        if v is None:
            continue
        if isinstance(v, str) and not v.strip():
            continue
        if isinstance(v, (list, tuple)) and not v:
            continue
        return False
    return True


def map_columns(path: Path, kind: Kind, headers: Iterable[str], rows: list[dict[str, Any]], *,
                first_row: int, encoding: str | None, auto_id: bool = False) -> RawTable:
    aliases = aliases_for(kind)
    lookup = {header_key(a): f for f, names in aliases.items() for a in names}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    url_col: str | None = None
    headers = list(headers)
    for h in headers:
        f = lookup.get(header_key(h))
        if f is not None and f not in taken:
            columns[h] = f
            taken.add(f)
        elif header_key(h) in {header_key(u) for u in URL_ID_HEADERS}:
            url_col = h
        else:
            ignored.append(h)
    notes: list[str] = []
    packed_col: str | None = None
    if kind == "patents" and not {"title", "abstract"} & taken:
        for h in ignored:
            if header_key(h) in ("text", "content", "全文", "文本"):
                packed_col = h
                notes.append(f"title/abstract unpacked from column {h!r}")
                break
    if "id" not in taken and url_col is not None:
        notes.append(f"id taken from the publication number in column {url_col!r}")
    make_id = auto_id and "id" not in taken and url_col is None
    if make_id:
        notes.append(f"no id column: ids generated as {path.stem}-<row>")
    required = REQUIRED[kind]
    missing = [f for f in required if f not in taken
               and not (f == "id" and (url_col or make_id)) and not (f in ("title", "abstract") and packed_col)]
    if missing:
        raise MissingColumnError(
            f"{path.name}: missing required column(s) {missing} for {kind}; found columns "
            f"{headers}",
            details={f"aliases tried for {f}": ", ".join(aliases[f]) for f in missing},
        )
    out: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    blank = 0
    for i, raw in enumerate(rows):
        if "__error__" not in raw and _is_blank(raw):
            blank += 1
            continue
        row = {columns[h]: v for h, v in raw.items() if h in columns}
        if "__error__" in raw:
            row["__error__"] = raw["__error__"]
        if url_col is not None and not row.get("id"):
            m = _URL_ID.search(str(raw.get(url_col) or ""))
            row["id"] = m.group(1).upper() if m else None
        if make_id:
            row["id"] = f"{path.stem}-{first_row + i}"
        if packed_col is not None and isinstance(raw.get(packed_col), str):
            row["title"], row["abstract"] = unpack_text(raw[packed_col])
        out.append((first_row + i, row, raw))
    if not out:
        raise FileFormatError(
            f"{path.name}: no data rows (header {headers}"
            f"{f' and {blank} blank rows' if blank else ''}); expected at least one record",
            details={"path": str(path)})
    return RawTable(path=path, columns=columns, ignored_columns=ignored, rows=out,
                    blank_rows=blank, encoding=encoding, notes=notes)
