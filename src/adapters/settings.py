"""Configuration from ``EMBED_OAUTH_*`` environment variables (see docs/configuration.md)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from adapters.crypto.keyring import InvalidKeyring, Keyring
from domain.redirect_uri import CALLBACK_PATH
from domain.webhooks import DEFAULT_RETRY_SECONDS

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/embed-oauth.sqlite3"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_DEVELOPMENT_KEY_FILE = Path("var/development-encryption-keys")
MEMORY_DATABASE_URL = "memory://"


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = DEFAULT_PUBLIC_URL
    encryption_keys: str | None = None
    development_key_file: Path = DEFAULT_DEVELOPMENT_KEY_FILE
    state_lifetime: timedelta = timedelta(minutes=10)
    max_body_bytes: int = 64 * 1024
    environment: str = "development"
    demo: bool = True
    refresh_margin: timedelta = timedelta(seconds=60)
    token_timeout: timedelta = timedelta(seconds=10)
    cleanup_interval: timedelta = timedelta(minutes=5)
    cache_seconds: float = 2.0
    allow_local_providers: bool = True
    rate_limit_per_minute: int = 0
    log_level: str = "INFO"
    metrics_token: str | None = None
    refresh_job: bool = True
    refresh_job_interval: timedelta = timedelta(seconds=60)
    webhook_retry_seconds: tuple[int, ...] = DEFAULT_RETRY_SECONDS
    webhook_timeout: timedelta = timedelta(seconds=10)
    webhook_worker: bool = True
    webhook_poll_interval: timedelta = timedelta(seconds=1)
    webhook_retention: timedelta = timedelta(days=30)
    schema: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def callback_url(self) -> str:
        """Each organisation's ``redirect_uri`` is this followed by ``/{organisation_id}``."""
        return self.public_url + CALLBACK_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        public_url = (get("EMBED_OAUTH_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
        parts = urlsplit(public_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(
                "EMBED_OAUTH_PUBLIC_URL must be an absolute http(s) URL without query or fragment"
            )
        if "@" in parts.netloc:
            raise SettingsError("EMBED_OAUTH_PUBLIC_URL must not contain user-info (user@...)")
        environment = get("EMBED_OAUTH_ENVIRONMENT") or "development"
        if environment not in ("development", "production"):
            raise SettingsError("EMBED_OAUTH_ENVIRONMENT must be development or production")
        log_level = (get("EMBED_OAUTH_LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("EMBED_OAUTH_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return cls(
            database_url=_database_url(get("EMBED_OAUTH_DATABASE_URL") or DEFAULT_DATABASE_URL),
            public_url=public_url,
            encryption_keys=_encryption_keys(get("EMBED_OAUTH_ENCRYPTION_KEYS")),
            development_key_file=Path(
                get("EMBED_OAUTH_DEVELOPMENT_KEY_FILE") or DEFAULT_DEVELOPMENT_KEY_FILE
            ),
            state_lifetime=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_STATE_LIFETIME_SECONDS", 600, 1, 86_400)
            ),
            max_body_bytes=_bounded_int(env, "EMBED_OAUTH_MAX_BODY_BYTES", 64 * 1024, 1, 10**7),
            environment=environment,
            demo=_switch(env, "EMBED_OAUTH_DEMO", default=environment == "development"),
            refresh_margin=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_REFRESH_MARGIN_SECONDS", 60, 1, 86_400)
            ),
            token_timeout=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_TOKEN_TIMEOUT_SECONDS", 10, 1, 25)
            ),
            cleanup_interval=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_CLEANUP_INTERVAL_SECONDS", 300, 1, 86_400)
            ),
            log_level=log_level,
            metrics_token=_metrics_token(get("EMBED_OAUTH_METRICS_TOKEN")),
            refresh_job=_switch(env, "EMBED_OAUTH_REFRESH_JOB", default=True),
            refresh_job_interval=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_REFRESH_JOB_INTERVAL_SECONDS", 60, 1, 86_400)
            ),
            webhook_retry_seconds=_retry_schedule(get("EMBED_OAUTH_WEBHOOK_RETRY_SECONDS")),
            webhook_timeout=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_WEBHOOK_TIMEOUT_SECONDS", 10, 1, 60)
            ),
            webhook_worker=_switch(env, "EMBED_OAUTH_WEBHOOK_WORKER", default=True),
            webhook_poll_interval=timedelta(
                seconds=_bounded_int(env, "EMBED_OAUTH_WEBHOOK_POLL_SECONDS", 1, 1, 3600)
            ),
            webhook_retention=timedelta(
                days=_bounded_int(env, "EMBED_OAUTH_WEBHOOK_RETENTION_DAYS", 30, 1, 3650)
            ),
            schema=_switch(env, "EMBED_OAUTH_SCHEMA", default=True),
            cache_seconds=float(_bounded_int(env, "EMBED_OAUTH_CACHE_SECONDS", 2, 0, 60)),
            rate_limit_per_minute=_bounded_int(
                env, "EMBED_OAUTH_RATE_LIMIT_PER_MINUTE", 0, 0, 10_000_000
            ),
            allow_local_providers=_switch(
                env, "EMBED_OAUTH_ALLOW_LOCAL_PROVIDERS", default=environment == "development"
            ),
        )


def production_refusal(settings: Settings) -> str | None:
    """Why a production service must not start with these settings, or ``None``."""
    if not settings.is_production:
        return None
    if not settings.encryption_keys:
        return (
            "EMBED_OAUTH_ENCRYPTION_KEYS must be set in production (`embed-oauth keys generate` "
            "prints an entry); the development key file is for development only"
        )
    if not settings.public_url.startswith("https://"):
        return "EMBED_OAUTH_PUBLIC_URL must be an https URL in production"
    return None


# The async drivers this service runs on, and what a URL naming the plain backend should say.
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg://",
    "postgres": "postgresql+asyncpg://",
    "sqlite": "sqlite+aiosqlite:///",
}


def _database_url(url: str) -> str:
    """A URL the async engine can use; a common slip gets a one-line fix."""
    if url == MEMORY_DATABASE_URL:
        return url
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise SettingsError(
            "EMBED_OAUTH_DATABASE_URL must be a database URL such as "
            "sqlite+aiosqlite:///./var/embed-oauth.sqlite3 or "
            "postgresql+asyncpg://user@host/database"
        )
    backend, _, driver = scheme.partition("+")
    if backend in _ASYNC_DRIVERS and not driver:
        written = f"{scheme}://" + ("/" if backend == "sqlite" else "")
        raise SettingsError(
            "EMBED_OAUTH_DATABASE_URL names no async driver: write "
            f"{_ASYNC_DRIVERS[backend]} instead of {written}"
        )
    if (backend, driver) not in (("postgresql", "asyncpg"), ("sqlite", "aiosqlite")):
        raise SettingsError(
            "EMBED_OAUTH_DATABASE_URL must start with sqlite+aiosqlite:/// or "
            "postgresql+asyncpg://, or be memory://"
        )
    return url


def _encryption_keys(spec: str | None) -> str | None:
    """Checked here so that a malformed value stops every command with one line."""
    if spec is not None:
        try:
            Keyring.parse(spec)
        except InvalidKeyring as exc:
            raise SettingsError(
                f"EMBED_OAUTH_ENCRYPTION_KEYS is not valid: {exc} "
                "(`embed-oauth keys generate` prints a valid entry)"
            ) from None
    return spec


MAX_RETRY_DELAY = 7 * 86_400
MAX_RETRIES = 50


def _retry_schedule(raw: str | None) -> tuple[int, ...]:
    if raw is None:
        return DEFAULT_RETRY_SECONDS
    parts = [part.strip() for part in raw.split(",")]
    if not 0 < len(parts) <= MAX_RETRIES or not all(
        p.isdigit() and int(p) <= MAX_RETRY_DELAY for p in parts
    ):
        default = ",".join(map(str, DEFAULT_RETRY_SECONDS))
        raise SettingsError(
            "EMBED_OAUTH_WEBHOOK_RETRY_SECONDS must be 1 to 50 comma-separated delays in "
            f"seconds, each at most {MAX_RETRY_DELAY} (default {default})"
        )
    return tuple(int(p) for p in parts)


MIN_METRICS_TOKEN_LENGTH = 16


def _metrics_token(raw: str | None) -> str | None:
    if raw is not None and (len(raw) < MIN_METRICS_TOKEN_LENGTH or not raw.isascii()):
        raise SettingsError(
            f"EMBED_OAUTH_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} ASCII "
            "characters (for example the output of `openssl rand -hex 32`)"
        )
    return raw


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be on or off")


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}")
    return int(raw)
