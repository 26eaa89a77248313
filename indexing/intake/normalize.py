"""Field normalisation for ingested records: width, whitespace, HTML, IPC, dates, types.

Every function is pure and total on strings: it returns a normalised value or raises
``RecordValidationError`` naming what was expected and what arrived, so the ingester can
turn the error into a row-level reject (nothing is silently dropped).
"""

from __future__ import annotations

import datetime as _dt
import html
import re
import unicodedata
from html.parser import HTMLParser

from patmatch.errors import RecordValidationError

# --- width and whitespace --------------------------------------------------------------
# Full-width ASCII (U+FF01..U+FF5E) maps to U+0021..U+007E; U+3000 is the ideographic
# space. The marks Chinese prose is written with (，；：！？（）) stay full-width: they
# are the sentence/clause boundaries that claims splitting and highlighting rely on.
KEEP_FULL_WIDTH = "，；：！？（）"
_FULL_TO_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in KEEP_FULL_WIDTH}
_FULL_TO_HALF[0x3000] = 0x20
_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\ufeff]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def to_half_width(text: str) -> str:
    return text.translate(_FULL_TO_HALF)


def clean_text(text: str | None, *, keep_newlines: bool = True) -> str | None:
    """Half-width ASCII, collapsed spaces, trimmed; None/blank -> None."""
    if text is None:
        return None
    s = to_half_width(str(text)).replace("\r\n", "\n").replace("\r", "\n")
    s = _WS.sub(" ", s)
    s = _NEWLINES.sub("\n" if keep_newlines else " ", s).strip()
    return s or None


# --- HTML ------------------------------------------------------------------------------
# a real tag (<p>, </div>, <br/>, <a href=..>), a comment, or an entity; "a < b" is not
_HTML_HINT = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|<!--|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}


class _TextExtractor(HTMLParser):
    """Keeps text, drops tags; the content of script/style is dropped entirely."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def has_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def strip_html(text: str) -> str:
    """Remove tags and script/style bodies, unescape entities, keep the visible text."""
    if not has_html(text):
        return text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return html.unescape("".join(parser.parts))


# --- IPC -------------------------------------------------------------------------------
# Section A-H, class 2 digits, subclass letter; optional main group (1-4 digits, EPO
# exports zero-pad it to 4) and subgroup (>= 2 digits). A trailing edition "(2006.01)"
# and inner spaces are tolerated. CPC indexing codes (G06F2203/04806) have the same shape.
_IPC_RE = re.compile(
    r"^([A-H])\s*(\d{2})\s*([A-Z])(?:\s*(\d{1,4})(?:\s*/\s*(\d{1,6}))?)?\s*(?:\(\d{4}\.\d{2}\))?$"
)
_IPC_SPLIT = re.compile(r"[;,，；、|\n]+")


def normalize_ipc(code: str) -> str:
    """``H01M 10/0525`` / ``h01m0010/0525 (2010.01)`` -> ``H01M10/0525``."""
    raw = code
    s = to_half_width(code).strip().upper().strip("\"'[]")
    m = _IPC_RE.match(s)
    if not m:
        raise RecordValidationError(
            f"malformed IPC code {raw!r}: expected like 'H01M10/0525', 'H01M 10/0525' or 'H01M'",
            details={"field": "ipc", "value": raw},
        )
    section, cls, sub, group, subgroup = m.groups()
    out = f"{section}{cls}{sub}"
    if group is not None:
        g = str(int(group))
        sg = subgroup if subgroup is not None else "00"
        if len(sg) == 1:
            sg = sg + "0"  # "10/5" is how some exports write "10/50"
        out += f"{g}/{sg}"
    return out


def parse_ipc_list(value: object) -> tuple[str, ...]:
    """One or many codes (list, JSON-ish list string, ; , | separated) -> canonical tuple."""
    if value is None:
        return ()
    items: list[str]
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value if v is not None]
    else:
        s = to_half_width(str(value)).strip()
        if s.startswith("[") and s.endswith("]"):
            s = s[1:-1]
        items = _IPC_SPLIT.split(s)
    out: list[str] = []
    for item in items:
        item = item.strip().strip("\"'")
        if not item:
            continue
        code = normalize_ipc(item)
        if code not in out:
            out.append(code)
    return tuple(out)


# --- dates -----------------------------------------------------------------------------
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = _dt.date(1899, 12, 30)


# Dates outside this range are placeholders, not dates: 9999-12-31 ("no end"), 1899-12-30
# (Excel's day 0), 1900-01-00 artefacts. Rejected with the rule in the message.
PLAUSIBLE_DATES = (_dt.date(1900, 1, 1), _dt.date(2100, 12, 31))


def normalize_date(value: object, *, field: str = "date") -> str | None:
    """``2021/3/5``, ``2021年3月5日``, ``20210305``, datetimes, Excel serials -> ISO.

    Impossible dates (2021-02-30) and implausible ones (outside 1900-01-01..2100-12-31)
    raise ``RecordValidationError``."""
    out = _parse_date(value, field)
    if out is not None and not (PLAUSIBLE_DATES[0].isoformat() <= out <= PLAUSIBLE_DATES[1].isoformat()):
        raise RecordValidationError(
            f"implausible date in {field}: {out}; expected a date between "
            f"{PLAUSIBLE_DATES[0]} and {PLAUSIBLE_DATES[1]} (placeholders such as 9999-12-31 "
            "or 1899-12-30 are not dates: leave the cell empty)",
            details={"field": field, "value": out})
    return out


def _parse_date(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    s = to_half_width(str(value)).strip()
    if not s:
        return None
    m = _DATE_RE.match(s) or _COMPACT_DATE.match(s)
    if m is None and re.fullmatch(r"\d{5}(\.0+)?", s):
        # an Excel serial day number that lost its date type on the way
        return (_EXCEL_EPOCH + _dt.timedelta(days=int(float(s)))).isoformat()
    if m is not None:
        try:
            return _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            pass
    raise RecordValidationError(
        f"malformed date in {field}: {value!r}; expected e.g. 2021-03-05, 2021/3/5, "
        "2021年3月5日 or 20210305",
        details={"field": field, "value": str(value)},
    )


# --- booleans and small vocabularies ----------------------------------------------------
_TRUE = {"1", "true", "yes", "y", "t", "是", "有", "开放", "对", "√"}
_FALSE = {"0", "false", "no", "n", "f", "否", "无", "不", "不开放", "×", ""}


def parse_bool(value: object, *, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    s = to_half_width(str(value)).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise RecordValidationError(
        f"{field} must be a yes/no value (true/false, 1/0, 是/否), got {value!r}",
        details={"field": field, "value": str(value)},
    )


APPLICANT_TYPE_ALIASES: dict[str, str] = {
    "university": "university", "高校": "university", "大学": "university", "院校": "university",
    "institute": "institute", "科研院所": "institute", "研究所": "institute", "科研机构": "institute",
    "soe": "soe", "国企": "soe", "国有企业": "soe", "央企": "soe",
    "enterprise": "enterprise", "企业": "enterprise", "民营企业": "enterprise", "公司": "enterprise",
    "individual": "individual", "个人": "individual",
    "other": "other", "其他": "other",
}

COOPERATION_ALIASES: dict[str, str] = {
    "转让": "转让", "技术转让": "转让", "专利转让": "转让", "购买": "转让", "transfer": "转让",
    "许可": "许可", "专利许可": "许可", "技术许可": "许可", "授权许可": "许可", "license": "许可",
    "合作开发": "合作开发", "联合开发": "合作开发", "合作研发": "合作开发", "委托开发": "合作开发",
    "产学研合作": "合作开发", "co-development": "合作开发",
    "其他": "其他", "其它": "其他", "面议": "其他", "other": "其他",
}


def normalize_choice(value: str | None, aliases: dict[str, str], *, field: str) -> str | None:
    if value is None:
        return None
    key = to_half_width(value).strip().lower()
    if not key:
        return None
    if key in aliases:
        return aliases[key]
    allowed = sorted(set(aliases.values()))
    raise RecordValidationError(
        f"{field} must be one of {allowed} (or an alias), got {value!r}",
        details={"field": field, "value": value},
    )


# --- applicant type inference ----------------------------------------------------------
# The rule is part of the labeling standard (labeling_spec/party_types.py, README §11), with
# an override file operators edit; transfer parties use the same rule.
from labeling_spec.party_types import SOE_PATTERNS, infer_party_type  # noqa: E402,F401


def infer_applicant_type(applicant: str | None) -> str | None:
    """Infer from the first applicant: university > institute > soe > enterprise > individual
    (``labeling_spec.party_types.infer_party_type``)."""
    return infer_party_type(applicant)


def split_names(value: object) -> tuple[str, ...]:
    """Inventor lists: ``李一;王二``, ``李一, 王二``, lists -> tuple of names."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;；,，、|\n]+", str(value))
    out = [clean_text(str(v), keep_newlines=False) for v in items]
    return tuple(v for v in out if v)


def normalize_legal_status(value: str | None) -> str | None:
    """Map common spellings to the canonical statuses of ``records.VALID_LEGAL_STATUSES``."""
    s = clean_text(value, keep_newlines=False)
    if s is None:
        return None
    table = {
        "有效专利": "有效", "专利权维持": "有效", "授权": "授权", "已授权": "授权",
        "实审": "实质审查", "实质审查中": "实质审查", "在审": "实质审查", "公开": "公开",
        "granted": "granted", "valid": "valid", "pending": "pending",
    }
    return table.get(s, table.get(s.lower(), s))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
