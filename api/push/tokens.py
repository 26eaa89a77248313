"""Per-item feedback tokens: ``<delivery id>.<MAC>``, verifiable without a lookup table.

Every pushed item carries one; whoever holds it (a webhook consumer, the recipient of an
e-mail) may record feedback for exactly that item and nothing else, without an API key.
The MAC key lives in ``<home>/keys/push_token.key`` (created on first use, mode 0600);
replacing the file invalidates every token handed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from patmatch.errors import AuthenticationError

_PREFIX = b"patmatch-feedback:"


def token_key(keys_dir: Path) -> bytes:
    path = Path(keys_dir) / "push_token.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".push-key-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: use that one
        finally:
            os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())


def _mac(key: bytes, delivery_id: int) -> str:
    raw = hmac.new(key, _PREFIX + str(delivery_id).encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(raw).decode("ascii")


def make_token(key: bytes, delivery_id: int) -> str:
    return f"{delivery_id}.{_mac(key, delivery_id)}"


def read_token(key: bytes, token: str) -> int:
    """The delivery id a token was made for; AuthenticationError (401) when forged."""
    head, _, mac = (token or "").partition(".")
    if not head.isdigit() or len(head) > 18 or not hmac.compare_digest(
            mac.encode(), _mac(key, int(head)).encode()):
        raise AuthenticationError("反馈令牌无效 (the feedback token is invalid)")
    return int(head)


__all__ = ["make_token", "read_token", "token_key"]
