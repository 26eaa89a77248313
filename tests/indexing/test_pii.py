"""Personal data: masking rules, ID-card numbers in text, Fernet at rest, key file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from indexing.privacy import (PiiCipher, id_checksum_ok, load_or_create_key, mask_demand, mask_email,
                          mask_id_numbers, mask_name, mask_phone)
from indexing.records import DemandRecord
from patmatch.errors import ConfigError

VALID_ID = "11010519491231002X"  # the GB 11643 specimen number, valid check digit


def test_masking_rules() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("0519-8888666") == "051****8666"
    assert mask_phone("8888666") == "88*8666"
    assert "8888" not in mask_phone("0519-8888666")
    assert mask_email("zhang@example.com") == "z***@example.com"
    assert mask_name("张三") == "张*" and mask_name("欧阳小明") == "欧***"
    assert mask_phone(None) is None and mask_email("") == ""


def test_id_numbers_masked_anywhere_in_text() -> None:
    assert id_checksum_ok(VALID_ID) and not id_checksum_ok("110105194912310021")
    text = f"联系人身份证{VALID_ID}，零件号110105194912310021。"
    out = mask_id_numbers(text)
    assert VALID_ID not in out and "110105********002X" in out
    assert "110105194912310021" in out  # wrong check digit: a part number, left alone
    assert mask_id_numbers("旧身份证号 110105491231002 已作废") == "旧身份证号 110105******002 已作废"
    assert mask_id_numbers("批号 110105491231002") == "批号 110105491231002"  # no context


def test_mask_demand_masks_every_personal_field() -> None:
    rec = DemandRecord(id="d1", text=f"身份证{VALID_ID}", contact_name="张三",
                       contact_phone="13812345678", contact_email="zhang@example.com")
    m = mask_demand(rec)
    assert (m.contact_name, m.contact_phone, m.contact_email) == ("张*", "138****5678", "z***@example.com")
    assert VALID_ID not in m.text and m.id == "d1"


def test_cipher_roundtrip_and_key_file_permissions(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "pii.key"
    key = load_or_create_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert load_or_create_key(key_file) == key  # generated once, then reused
    c = PiiCipher(key)
    token = c.encrypt("13812345678")
    assert "13812345678" not in token and c.decrypt(token) == "13812345678"
    assert c.digest("a") == PiiCipher(key).digest("a") != c.digest("b")
    other = PiiCipher(load_or_create_key(tmp_path / "other.key"))
    with pytest.raises(ConfigError, match="PII key"):
        other.decrypt(token)
    with pytest.raises(ConfigError):
        PiiCipher(b"not a key")


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "k" / "pii.key"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_key(key_file)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and not [p for p in key_file.parent.iterdir() if p.name.startswith(".")]


def test_from_settings_uses_data_home(settings) -> None:  # noqa: ANN001
    c = PiiCipher.from_settings(settings)
    assert settings.resolved_pii_key_file.exists()
    assert c.decrypt(PiiCipher.from_settings(settings).encrypt("x")) == "x"
    assert os.stat(settings.resolved_pii_key_file).st_size > 0


def test_an_id_number_right_after_its_label_is_masked_whatever_its_check_digit() -> None:
    out = mask_id_numbers("身份证110101199003077777，零件号110105194912310021")
    assert "110101199003077777" not in out and "110101********7777" in out
    assert "110105194912310021" in out  # a part number further on keeps its digits


def test_a_name_after_a_contact_word_is_masked_before_punctuation() -> None:
    from indexing.privacy import mask_pii

    assert mask_pii("联系人王小明，电话见附件") == "联系人王**，电话见附件"
    assert mask_pii("对接人李四。") == "对接人李*。"
    assert mask_pii("负责人同意，下周签约") == "负责人同意，下周签约"  # not a name
