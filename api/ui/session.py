"""Web-console sessions: a signed, expiring cookie and CSRF tokens bound to it.

The cookie names the API key by its SHA-256 digest (what the key table stores), never
the key itself, so a copied cookie cannot be replayed against the JSON API and expires
with the session. Every request re-checks the digest through ``KeyStore.verify_digest``
(cached for ``KeyStore.CACHE_SECONDS``): revoking a key ends its sessions within seconds
in every worker. CSRF tokens are HMACs of the session id, so they need no server state
and die with the session; the sign-in form, which has no session yet, binds its token to
a short-lived signed "pre-session" cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from patmatch.settings import Settings

SESSION_COOKIE = "pm_session"
PRE_COOKIE = "pm_login"
PRE_SECONDS = 30 * 60  # a sign-in form older than this must be reloaded
SECRET_FILE = "ui_session.key"


@dataclass(frozen=True)
class Session:
    sid: str
    key_digest: str


def load_secret(settings: Settings) -> bytes:
    """The signing secret: from settings, else a 0600 file in the data home.

    Created once, race-free across worker processes: written to a private temp file,
    fsynced, then hard-linked into place (link fails if another worker won; read theirs).
    """
    if settings.ui_session_secret:
        return settings.ui_session_secret.encode("utf-8")
    path = Path(settings.keys_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ui_session.")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_hex(32).encode("ascii"))
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        from patmatch.errors import ConfigError

        raise ConfigError(f"the console's session key file {path} is shorter than 32 bytes; "
                          "delete it to have a new one created")
    return secret


class SessionManager:
    def __init__(self, secret: bytes, *, max_age_seconds: int) -> None:
        self._secret = secret
        self.max_age = max(60, int(max_age_seconds))
        self._signer = URLSafeTimedSerializer(secret, salt="patmatch.ui.session")
        self._pre_signer = URLSafeTimedSerializer(secret, salt="patmatch.ui.login")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionManager:
        return cls(load_secret(settings),
                   max_age_seconds=int(settings.ui_session_hours * 3600))

    # --- the session cookie ------------------------------------------------------------
    def issue(self, key_digest: str) -> tuple[str, Session]:
        session = Session(secrets.token_urlsafe(16), key_digest)
        return self._signer.dumps([session.sid, session.key_digest]), session

    def read(self, cookie: str | None) -> Session | None:
        """The session, or None for a missing, forged, malformed or expired cookie."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            sid, digest = self._signer.loads(cookie, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if not (isinstance(sid, str) and isinstance(digest, str)):
            return None
        return Session(sid, digest)

    # --- CSRF ----------------------------------------------------------------------------
    def csrf_token(self, bound_to: str) -> str:
        return hmac.new(self._secret, b"csrf:" + bound_to.encode("utf-8"),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        return hmac.compare_digest(self.csrf_token(bound_to), token)

    def issue_pre(self) -> tuple[str, str]:
        """(cookie value, nonce) for the sign-in form."""
        nonce = secrets.token_urlsafe(16)
        return self._pre_signer.dumps(nonce), nonce

    def read_pre(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 256:
            return None
        try:
            nonce = self._pre_signer.loads(cookie, max_age=PRE_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        return nonce if isinstance(nonce, str) else None
