"""Big5 / Shift-JIS files are refused naming the likely encoding, never read as GB18030
mojibake; GBK and GB18030 still read (issue 13 finding 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.intake.readers import read_table
from patmatch.errors import EncodingError, PatmatchError

TRAD = "id,text\nD1,本發明公開了一種鋰電池低溫電解液，提高了放電性能和續航能力。\nD2,需要光伏組件清洗機器人技術\n"
JP = "id,text\nD1,本発明はリチウム電池の低温電解液に関するもので、放電性能を向上させる。\n"
SIMP = "id,text\nD1,本发明公开了一种锂电池低温电解液，提高了放电性能和续航能力。\nD2,需要光伏组件清洗机器人技术\n"


@pytest.mark.parametrize("text,enc,named", [(TRAD, "big5", "Big5"), (JP, "shift_jis", "Shift-JIS")])
def test_other_cjk_encodings_are_refused(tmp_path: Path, text: str, enc: str, named: str) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(text.encode(enc))
    with pytest.raises(EncodingError) as e:
        read_table(p, "demands")
    assert named in e.value.message and "UTF-8" in e.value.message
    assert e.value.details["likely_encoding"]


@pytest.mark.parametrize("enc", ["gbk", "gb18030"])
def test_gb_files_still_read(tmp_path: Path, enc: str) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(SIMP.encode(enc))
    table = read_table(p, "demands")
    assert table.encoding == "gb18030"
    assert [r["text"] for _, r, _ in table.rows][0].startswith("本发明公开了一种锂电池")


def test_garbage_bytes(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(PatmatchError):
        read_table(p, "demands")
