"""Personal data: masking for every output path, Fernet encryption at rest.

Masking rules (documented in docs/ingestion.md):
- phone: keep the first 3 and last 4 digits, ``13812345678`` -> ``138****5678``; short
  numbers keep only the last 2 digits.
- e-mail: keep the first character of the local part, ``zhang@example.com`` ->
  ``z***@example.com``.
- name: keep the first character (the family name), ``张三`` / ``张小三`` -> ``张*`` / ``张**``.
- ID-card numbers (18-digit resident ID, last char may be X; 15-digit old form) anywhere
  in free text -> first 6 + ``********`` + last 4.

``mask_pii`` is the one detector for free text (titles, demand texts, enterprise, budget,
queries in the audit log, batch outputs, rejects): ID numbers (18 digits with a valid check
digit; 15 digits near 身份证), mobile phones (1[3-9] + 9 digits, optional +86), landlines
(0 + 2-3 digit area code + 7-8 digits, with or without a dash or brackets, plus 400/800
numbers), e-mail addresses, bank-card numbers (13-19 digits passing the Luhn check, spaces
or dashes allowed between groups) and names written after a contact word (联系人, 负责人,
经办人, 对接人, 联系方式, 姓名 ...) or before 先生/女士. Each is masked with the
field rule above; ``mask_pii`` is idempotent.
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
    15-digit form has no check digit, so it is masked only near a word like 身份证; right
    after such a word (身份证号：…) an 18-digit number is masked whatever its check digit
    (a mistyped ID is still somebody's ID).
    """
    if not text:
        return text
    context = bool(_ID_CONTEXT.search(text))

    def id18(m: re.Match[str]) -> str:
        named = context and _ID_CONTEXT.search(m.string, max(0, m.start() - 8), m.start())
        return (m[1] + "********" + m[3][-4:]) if named or id_checksum_ok(m[0]) else m[0]

    text = _ID18.sub(id18, text)
    if context:
        text = _ID15.sub(lambda m: m[1] + "******" + m[3], text)
    return text


_D = r"(?<![0-9A-Za-z])"  # not inside a longer number or word
_ND = r"(?![0-9A-Za-z])"
_MOBILE = re.compile(_D + r"((?:\+?86[-\s]?)?1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})" + _ND)
_LANDLINE = re.compile(
    _D + r"(?:[(（]0\d{2,3}[)）]\s?|0\d{2,3}[-\s]|0\d{2,3}(?=[2-9]\d{6,7}(?!\d)))"
    r"[2-9]\d{2,3}-?\d{4}(?:[-转]\d{1,5})?" + _ND)
_SERVICE = re.compile(_D + r"[48]00[-\s]?\d{3}[-\s]?\d{4}" + _ND)
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_CARD = re.compile(_D + r"\d{4}(?:[\s-]?\d{4}){2,3}(?:[\s-]?\d{1,3})?" + _ND)
_NAME_WORDS = r"(联系人|负责人|经办人|对接人|联络人|申请人姓名|姓名|联系方式|法人代表|法定代表人)"
_TITLES = r"先生|女士|经理|老师|主任|博士|教授|工程师|电话|手机|邮箱|联系|[0-9+@(（]"
# "联系人：张伟" (a separator, then 2-4 characters up to a non-CJK character or a title)
_NAME_CONTEXT = re.compile(
    _NAME_WORDS + r"(\s*(?:[:：]|是|为|\s)\s*)([\u4e00-\u9fff·]{2,4}?)"
    r"(?=$|[^\u4e00-\u9fff·]|" + _TITLES + ")")
# "联系人张伟13812345678" (no separator: only when a title or a number follows, so
# "负责人同意合作" stays as it is)
_NAME_TIGHT = re.compile(_NAME_WORDS + r"()([\u4e00-\u9fff·]{2,4}?)(?=" + _TITLES + ")")
# "联系人王小明，电话…" (no separator, punctuation after): only after the words that always
# introduce a person, never after 负责人 ("负责人同意，…" stays as it is)
_NAME_PUNCT = re.compile(r"(联系人|联络人|对接人|经办人|姓名)()([\u4e00-\u9fff·]{2,3})"
                         r"(?=[，,。；;、）)\s]|$)")
_NAME_TITLE = re.compile(r"(?<![\u4e00-\u9fff])([\u4e00-\u9fff]{1,2})(先生|女士)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m[0])
    if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
        return m[0]
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def mask_pii(text: str | None) -> str | None:
    """Every kind of personal data this module knows, masked in free text (idempotent).

    Order matters: ID numbers and cards (long digit runs) before phones, so a phone
    pattern never takes the middle of an ID number."""
    if not text:
        return text
    out = mask_id_numbers(text) or text
    if any(c.isdigit() for c in out):
        out = _CARD.sub(_mask_card, out)
        out = _MOBILE.sub(lambda m: m[1] + "****" + m[3], out)
        out = _SERVICE.sub(lambda m: mask_phone(m[0]) or m[0], out)
        out = _LANDLINE.sub(lambda m: mask_phone(m[0]) or m[0], out)
    if "@" in out:
        out = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m[0]) or m[0], out)
    for pattern in (_NAME_CONTEXT, _NAME_TIGHT, _NAME_PUNCT):
        out = pattern.sub(lambda m: m[1] + m[2] + (mask_name(m[3]) or m[3]), out)
    out = _NAME_TITLE.sub(lambda m: m[1][:1] + "*" * (len(m[1]) - 1) + m[2], out)
    return out


# free-text fields of a demand: shown to every role that may see the demand
DEMAND_FREE_TEXT: tuple[str, ...] = ("text", "title", "enterprise", "industry", "region",
                                     "budget", "source")


def mask_free_text(rec: DemandRecord) -> DemandRecord:
    """A copy with personal data masked inside every free-text field (the contact fields,
    kept for the roles allowed to see them and encrypted at rest, are left alone)."""
    changes = {f: mask_pii(getattr(rec, f)) for f in DEMAND_FREE_TEXT}
    changes = {f: v for f, v in changes.items() if v != getattr(rec, f)}
    return dataclasses.replace(rec, **changes) if changes else rec


def mask_demand(rec: DemandRecord) -> DemandRecord:
    """A copy with every personal field masked, and personal data in free text too."""
    return dataclasses.replace(
        mask_free_text(rec),
        contact_name=mask_name(rec.contact_name),
        contact_phone=mask_phone(rec.contact_phone),
        contact_email=mask_email(rec.contact_email),
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


def private_file(path: Path) -> Path:
    """Create ``path`` (if missing) readable by its owner only, and make an existing one
    so: files holding records (SQLite databases, whose -wal/-shm files SQLite creates with
    the database's own mode) are 0600 whatever the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


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
