"""Personal data: masking for every output path, Fernet encryption at rest.

Masking rules (documented in docs/ingestion.md):
- phone: keep the first 3 and last 4 digits, ``13812345678`` -> ``138****5678``; short
  numbers keep only the last 2 digits.
- e-mail: keep the first character of the local part, ``zhang@example.com`` ->
  ``z***@example.com``.
- name: keep the first character (the family name), ``张三`` / ``张小三`` -> ``张*`` / ``张**``.
- ID-card numbers (18-digit resident ID, last char may be X; 15-digit old form) anywhere
  in free text -> first 6 + ``********`` + last 4.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from patmatch.errors import ConfigError

if TYPE_CHECKING:
    from indexing.records import DemandRecord
    from patmatch.settings import Settings

# 18-digit ID: 6-digit area, birth date 19xx/20xx MMDD, 3-digit sequence, check digit.
_ID18 = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})((?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})(?![0-9A-Za-z])")


def mask_phone(s: str | None) -> str | None:
    if not s:
        return s
    digits = re.sub(r"\D", "", s)
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) >= 7:
        return digits[:2] + "*" * (len(digits) - 6) + digits[-4:]
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_email(s: str | None) -> str | None:
    if not s:
        return s
    local, sep, domain = s.strip().partition("@")
    if not sep:
        return (local[:1] + "***") if local else "***"
    return f"{local[:1]}***@{domain}"


def mask_name(s: str | None) -> str | None:
    if not s:
        return s
    s = s.strip()
    if " " in s and s.isascii():  # "Zhang San" -> "Z*** S***"
        return " ".join(p[:1] + "***" for p in s.split())
    return s[:1] + "*" * max(len(s) - 1, 1)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_CONTEXT = re.compile(r"身份证|证件号|ID\s*(?:card|no)", re.IGNORECASE)


def id_checksum_ok(number: str) -> bool:
    """GB 11643-1999 check digit (ISO 7064 MOD 11-2) of an 18-character resident ID."""
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def mask_id_numbers(text: str | None) -> str | None:
    """Mask resident ID-card numbers found anywhere in ``text``.

    18-digit numbers are masked when their check digit is valid (patents are full of long
    digit runs; the checksum keeps false positives near 1/11 of shape matches, and all of
    those are still masked on purpose: a masked part number costs little). The obsolete
    15-digit form has no check digit, so it is masked only near a word like 身份证.
    """
    if not text:
        return text
    text = _ID18.sub(lambda m: (m[1] + "********" + m[3][-4:]) if id_checksum_ok(m[0]) else m[0],
                     text)
    if _ID_CONTEXT.search(text):
        text = _ID15.sub(lambda m: m[1] + "******" + m[3], text)
    return text


def mask_demand(rec: DemandRecord) -> DemandRecord:
    """A copy with every personal field masked (text fields have ID numbers masked too)."""
    return dataclasses.replace(
        rec,
        contact_name=mask_name(rec.contact_name),
        contact_phone=mask_phone(rec.contact_phone),
        contact_email=mask_email(rec.contact_email),
        text=mask_id_numbers(rec.text) or rec.text,
        title=mask_id_numbers(rec.title),
    )


class PiiCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) for personal fields stored at rest."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError(
                "PII key is not a valid Fernet key (expected 32 url-safe base64-encoded bytes)"
            ) from exc
        self._mac_key = hashlib.sha256(b"patmatch-pii-mac" + key).digest()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PiiCipher:
        if settings is None:
            from patmatch.settings import get_settings

            settings = get_settings()
        return cls(load_or_create_key(settings.resolved_pii_key_file))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ConfigError(
                "cannot decrypt personal data: the PII key does not match the one the store "
                "was written with (check PATMATCH_PII_KEY_FILE)"
            ) from exc

    def digest(self, plaintext: str) -> str:
        """Keyed hash: change detection without a dictionary-attackable plain hash."""
        return hmac.new(self._mac_key, plaintext.encode("utf-8"), hashlib.sha256).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """Read the key; on first use create it with 0600 permissions (dir 0700).

    Creation is atomic and race-free across processes: the key is written to a private
    temp file and hard-linked into place, so a concurrent reader never sees a partial key
    and two first-runs agree on one key.
    """
    from cryptography.fernet import Fernet

    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pii-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race; use its key
        finally:
            os.unlink(tmp)
    key = path.read_bytes().strip()
    if not key:
        raise ConfigError(f"PII key file {path} is empty; expected a Fernet key")
    return key
