"""The service's configuration: one typed object, read once from the environment."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import ipaddress
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///instance/restaurant-bot.db"
CONTENT_SID_PREFIX = "CONTENT_SID_"


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service. Build with `Settings.from_env()`; tests use `replace()`."""

    host: str = "0.0.0.0"
    port: int = 8000
    redis_namespace: str = "restaurant-bot"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    broker_url: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str | None = None
    twilio_send_timeout_s: float = 2.0
    public_base_url: str | None = None

    sufrah_api_base: str | None = None
    sufrah_api_key: str | None = None
    sufrah_cache_ttl_ms: int = 180_000
    local_cache_ttl_ms: int = 30_000
    local_cache_size: int = 10_000

    queue_retry_attempts: int = 3
    queue_backoff_delay_ms: int = 5_000
    queue_max_backoff_ms: int = 3_600_000
    bootstrap_concurrency: int = 5
    bootstrap_rate_per_minute: int = 20

    content_sids: Mapping[str, str] = field(default_factory=dict)

    default_max_messages_per_day: int = 1000
    default_max_messages_per_min: int = 60
    default_max_conversations_per_month: int = 30_000

    catalog_breaker_failures: int = 5
    catalog_breaker_cooldown_ms: int = 60_000
    # Day chunks of one order-history import fetched at once (each reads its pages in turn).
    import_concurrency: int = 32

    metrics_token: str | None = None
    job_retention_days: int = 30
    message_body_retention_days: int = 90

    # Dramatiq's Redis broker declares a worker dead after this long without a heartbeat
    # and hands its unacknowledged messages to others (Dramatiq's default is 60 s).
    worker_heartbeat_timeout_ms: int = 15_000

    # Alerts and notifications (SPEC §15).
    secrets_key: str | None = None
    smtp_url: str | None = None
    smtp_from: str = "restaurant-bot@localhost"
    ops_webhook_url: str | None = None
    ops_webhook_secret: str | None = None
    alert_webhook_allow_private: bool = False
    # Conversation insights (SPEC §12): events, their batches, the optional narrative.
    insight_events: bool = True
    event_retention_days: int = 90
    insight_batch_events: int = 100
    insight_batch_max_age_s: int = 600
    insights_llm_url: str | None = None
    insights_llm_model: str = "gpt-4o-mini"
    insights_llm_api_key: str | None = None
    insights_llm_breaker_failures: int = 5
    insights_llm_breaker_cooldown_ms: int = 600_000

    log_level: str = "INFO"
    log_format: str = "text"

    # The dashboard (SPEC §14): signs its session cookies and CSRF tokens; the web process
    # refuses to start without it (`make run` keeps one under instance/).
    secret_key: str | None = field(default=None, repr=False)
    login_failures_per_minute: int = 10
    # Proxies whose X-Forwarded-For is believed (addresses or networks, e.g. 10.0.0.0/8).
    trusted_proxies: tuple[str, ...] = ()

    @property
    def welcome_content_sid(self) -> str | None:
        """Return the platform's default welcome template SID, if configured."""
        return self.content_sids.get("welcome")

    @property
    def effective_broker_url(self) -> str | None:
        """Return the broker URL: `BROKER_URL`, else `REDIS_URL`."""
        return self.broker_url or self.redis_url

    @property
    def console_mode(self) -> bool:
        """Return True when no Twilio account is configured: messages are logged, not sent."""
        return not self.twilio_account_sid

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def require_secret_key(self) -> str:
        """Return `SECRET_KEY` or stop with a clear error when it is not set."""
        if not self.secret_key:
            raise SettingsError(
                "SECRET_KEY: required by the web process (it signs dashboard sessions and"
                " CSRF tokens); e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return self.secret_key

    def require_redis_url(self) -> str:
        """Return `REDIS_URL` or stop with a clear error when it is not set."""
        if not self.redis_url:
            raise SettingsError("REDIS_URL: required (e.g. redis://127.0.0.1:6379/0)")
        return self.redis_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment, raising SettingsError on a bad value."""
        env = _Env(os.environ if environ is None else environ)
        return cls(
            host=env.text("HOST", "0.0.0.0"),
            port=env.integer("PORT", 8000, minimum=1, maximum=65535),
            redis_namespace=env.text("REDIS_NAMESPACE", "restaurant-bot"),
            database_url=env.url("DATABASE_URL", DEFAULT_DATABASE_URL, _DATABASE_SCHEMES),
            redis_url=env.optional_url("REDIS_URL", ("redis", "rediss", "unix")),
            broker_url=env.optional_url("BROKER_URL", ("redis", "rediss", "unix", "amqp", "amqps")),
            twilio_account_sid=env.optional("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=env.optional("TWILIO_AUTH_TOKEN"),
            twilio_api_base_url=env.optional_url("TWILIO_API_BASE_URL", ("http", "https")),
            twilio_send_timeout_s=env.integer("TWILIO_SEND_TIMEOUT_MS", 2000, minimum=1) / 1000,
            public_base_url=env.optional_url("PUBLIC_BASE_URL", ("http", "https")),
            sufrah_api_base=env.optional_url("SUFRAH_API_BASE", ("http", "https")),
            sufrah_api_key=env.optional("SUFRAH_API_KEY"),
            sufrah_cache_ttl_ms=env.integer("SUFRAH_CACHE_TTL_MS", 180_000, minimum=1),
            local_cache_ttl_ms=env.integer("LOCAL_CACHE_TTL_MS", 30_000, minimum=0),
            local_cache_size=env.integer("LOCAL_CACHE_SIZE", 10_000, minimum=1),
            queue_retry_attempts=env.integer("QUEUE_RETRY_ATTEMPTS", 3, minimum=0),
            queue_backoff_delay_ms=env.integer("QUEUE_BACKOFF_DELAY", 5_000, minimum=1),
            queue_max_backoff_ms=env.integer("QUEUE_MAX_BACKOFF", 3_600_000, minimum=1),
            bootstrap_concurrency=env.integer("BOOTSTRAP_CONCURRENCY", 5, minimum=1),
            bootstrap_rate_per_minute=env.integer("BOOTSTRAP_RATE_PER_MINUTE", 20, minimum=1),
            content_sids=env.content_sids(),
            default_max_messages_per_day=env.integer("DEFAULT_MAX_MESSAGES_PER_DAY", 1000, 0),
            default_max_messages_per_min=env.integer("DEFAULT_MAX_MESSAGES_PER_MIN", 60, 0),
            default_max_conversations_per_month=env.integer(
                "DEFAULT_MAX_CONVERSATIONS_PER_MONTH", 30_000, 0
            ),
            catalog_breaker_failures=env.integer("CATALOG_BREAKER_FAILURES", 5, minimum=1),
            catalog_breaker_cooldown_ms=env.integer("CATALOG_BREAKER_COOLDOWN_MS", 60_000, 1),
            import_concurrency=env.integer("IMPORT_CONCURRENCY", 32, minimum=1, maximum=256),
            metrics_token=env.optional("METRICS_TOKEN"),
            job_retention_days=env.integer("JOB_RETENTION_DAYS", 30, minimum=1),
            message_body_retention_days=env.integer("MESSAGE_BODY_RETENTION_DAYS", 90, minimum=1),
            worker_heartbeat_timeout_ms=env.integer("WORKER_HEARTBEAT_TIMEOUT_MS", 15_000, 1000),
            secrets_key=env.fernet_keys("SECRETS_KEY"),
            smtp_url=env.optional_url("SMTP_URL", ("smtp", "smtps")),
            smtp_from=env.text("SMTP_FROM", "restaurant-bot@localhost"),
            ops_webhook_url=env.optional_url("OPS_WEBHOOK_URL", ("http", "https")),
            ops_webhook_secret=env.optional("OPS_WEBHOOK_SECRET"),
            alert_webhook_allow_private=env.flag("ALERT_WEBHOOK_ALLOW_PRIVATE"),
            insight_events=env.choice("INSIGHT_EVENTS", "on", ("on", "off")) == "on",
            event_retention_days=env.integer("EVENT_RETENTION_DAYS", 90, minimum=1),
            insight_batch_events=env.integer("INSIGHT_BATCH_EVENTS", 100, minimum=1),
            insight_batch_max_age_s=env.integer("INSIGHT_BATCH_MAX_AGE_S", 600, minimum=1),
            insights_llm_url=env.optional_url("INSIGHTS_LLM_URL", ("http", "https")),
            insights_llm_model=env.text("INSIGHTS_LLM_MODEL", "gpt-4o-mini"),
            insights_llm_api_key=env.optional("INSIGHTS_LLM_API_KEY"),
            insights_llm_breaker_failures=env.integer(
                "INSIGHTS_LLM_BREAKER_FAILURES", 5, minimum=1
            ),
            insights_llm_breaker_cooldown_ms=env.integer(
                "INSIGHTS_LLM_BREAKER_COOLDOWN_MS", 600_000, minimum=1
            ),
            log_level=env.choice(
                "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
            ),
            log_format=env.choice("LOG_FORMAT", "text", ("text", "json")),
            secret_key=env.secret("SECRET_KEY"),
            login_failures_per_minute=env.integer("LOGIN_FAILURES_PER_MINUTE", 10, minimum=1),
            trusted_proxies=env.networks("TRUSTED_PROXIES"),
        )


_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")


class _Env:
    """Typed accessors over an environment mapping; empty values count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(
        self, name: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name}: must be at most {maximum}, got {value}")
        return value

    def flag(self, name: str) -> bool:
        raw = (self.optional(name) or "0").lower()
        if raw not in ("0", "1", "true", "false", "yes", "no"):
            raise SettingsError(f"{name}: expected 1 or 0, got {raw!r}")
        return raw in ("1", "true", "yes")

    def fernet_keys(self, name: str) -> str | None:
        raw = self.optional(name)
        if raw is None:
            return None
        for n, key in enumerate(raw.split(","), 1):
            if not _is_fernet_key(key.strip()):
                raise SettingsError(
                    f"{name}: key {n} is not a Fernet key (32 url-safe base64-encoded bytes)"
                )
        return raw

    def secret(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and len(value) < 16:
            raise SettingsError(f"{name}: too short ({len(value)} characters; use 32 or more)")
        return value

    def networks(self, name: str) -> tuple[str, ...]:
        raw = self.optional(name)
        if raw is None:
            return ()
        networks = []
        for part in (item.strip() for item in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise SettingsError(
                    f"{name}: {part!r} is not an IP address or network (e.g. 10.0.0.1, 10.0.0.0/8)"
                ) from None
        return tuple(networks)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        normalized = value.upper() if choices[0].isupper() else value.lower()
        if normalized not in choices:
            raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return normalized

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        raw = self.optional(name)
        if raw is None:
            return None
        return _check_url(name, raw, schemes)

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        return _check_url(name, self.text(name, default), schemes)

    def content_sids(self) -> dict[str, str]:
        prefix = CONTENT_SID_PREFIX
        return {
            key[len(prefix) :].lower(): value.strip()
            for key, value in self._environ.items()
            if key.startswith(prefix) and len(key) > len(prefix) and value.strip()
        }


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, binascii.Error):
        return False


def _check_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        raise SettingsError(f"{name}: unsupported URL scheme in {raw!r} (expected {allowed})")
    if parts.scheme not in ("sqlite", "unix") and not parts.netloc:
        raise SettingsError(f"{name}: URL {raw!r} has no host")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise SettingsError(f"{name}: URL {raw!r} has a port that is not a number") from None
    if parts.scheme in ("redis", "rediss"):
        database = parts.path.strip("/")
        if database and not (database.isascii() and database.isdigit()):
            raise SettingsError(
                f"{name}: URL {raw!r} names database {database!r}; expected a number, e.g. /0"
            )
    return raw


def is_setting(name: str) -> bool:
    """Return True when the environment variable `name` is one the settings read."""
    if name.startswith(CONTENT_SID_PREFIX):
        return len(name) > len(CONTENT_SID_PREFIX)
    return name in _setting_names()


@functools.cache
def _setting_names() -> frozenset[str]:
    # Read from `from_env` itself, so a new setting is known here without a second list.
    probe = _NamesAskedFor()
    Settings.from_env(probe)
    return frozenset(probe.names)


class _NamesAskedFor(Mapping[str, str]):
    """An empty environment that remembers which names were looked up in it."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_or_exit(
    environ: Mapping[str, str] | None = None,
    *,
    require_broker: bool = False,
    require_secret_key: bool = False,
) -> Settings:
    """Read the settings; on a bad value print one line naming the variable and exit 1.

    Every process entry point starts with this, so a misconfiguration reads as one line
    in the log rather than a traceback.
    """
    try:
        settings = Settings.from_env(environ)
        if require_broker and not settings.effective_broker_url:
            raise SettingsError("REDIS_URL: required (or BROKER_URL), e.g. redis://host:6379/0")
        if settings.ops_webhook_url and not settings.ops_webhook_secret:
            raise SettingsError("OPS_WEBHOOK_SECRET: required when OPS_WEBHOOK_URL is set")
        if require_secret_key:
            settings.require_secret_key()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    return settings


def check_timezone(name: str) -> str:
    """Return `name` if it is a known IANA zone, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (expected an IANA name like Asia/Riyadh)"
        ) from None
    return name
