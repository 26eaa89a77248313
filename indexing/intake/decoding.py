"""Bytes -> text for delimited and JSON files: UTF-8 (BOM or not), UTF-16 with a BOM,
GBK/GB18030; other CJK encodings (Big5, Shift-JIS, EUC) are refused naming the likely one.
"""

from __future__ import annotations

from pathlib import Path

from patmatch.errors import EncodingError

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
