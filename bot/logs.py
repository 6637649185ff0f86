"""Logging to stderr as text or one JSON object per line, with context ids and no secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from store.settings import Settings
from store.timeutil import iso_z, utcnow

# Ids that apply to the current request or job: request_id, message_sid, restaurant_id, job_id.
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "log_context",
    default={},  # noqa: B039  (never mutated: every change sets a new dict)
)

# Our tokens are recognisable by their type prefix; anything after a Bearer or an
# X-API-Key label, and Basic credentials, are masked wherever they appear in a message.
_SECRET_PATTERNS = [
    re.compile(r"\brb(?:pat|key)_[0-9A-Za-z]{8,}"),
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(r"(?i)(x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s,;\"']+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
]


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    """Return `text` with tokens, keys and the given secrets replaced by `[redacted]`."""
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Attach ids (request_id, message_sid, restaurant_id, job_id) to log lines in this block."""
    merged = {**_context.get(), **{k: str(v) for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def start_log_context(**ids: Any) -> None:
    """Replace the current context's ids (each request and each job starts afresh)."""
    _context.set({k: str(v) for k, v in ids.items() if v is not None})


def current_log_context() -> dict[str, str]:
    """Return the ids attached to log lines right now."""
    return dict(_context.get())


def bind_log_context(**ids: Any) -> None:
    """Add ids to the current context until it is reset by the enclosing `log_context`."""
    _context.set({**_context.get(), **{k: str(v) for k, v in ids.items() if v is not None}})


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # an argument whose str() fails must not kill the caller
            message = f"{record.msg} (its arguments could not be formatted)"
            record.msg, record.args = message, None
        cleaned = redact(message, self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_z(utcnow()),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context.get())
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger: message [k=v …]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _context.get()
        if ids:
            suffix = " ".join(f"{key}={value}" for key, value in ids.items())
            head, newline, rest = line.partition("\n")
            line = f"{head} [{suffix}]{newline}{rest}"
        return line


def configure_logging(settings: Settings, *, adopt_handlers: bool = False) -> None:
    """Send every log record to stderr in the configured format, secrets redacted.

    With `adopt_handlers`, the root logger's existing handlers are given our format and
    filter instead (Dramatiq's worker processes log through a pipe to their master).
    """
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter()
    known = (settings.twilio_auth_token, settings.sufrah_api_key, settings.metrics_token)
    redacting = _RedactingFilter(tuple(secret for secret in known if secret))
    root = logging.getLogger()
    handlers: list[logging.Handler]
    if adopt_handlers and root.handlers:
        handlers = list(root.handlers)
    else:
        for existing in list(root.handlers):
            if getattr(existing, "_restaurant_bot", False):
                root.removeHandler(existing)
        ours: logging.Handler = logging.StreamHandler(sys.stderr)
        ours._restaurant_bot = True  # type: ignore[attr-defined]
        root.addHandler(ours)
        handlers = [ours]
    for handler in handlers:
        handler.setFormatter(formatter)
        for old in [f for f in handler.filters if isinstance(f, _RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redacting)
    root.setLevel(settings.log_level)
    # Client libraries log every request at INFO/DEBUG, including auth headers.
    noisy_loggers = ("twilio.http_client", "httpx", "httpcore", "urllib3", "pika", "alembic")
    for noisy in (*noisy_loggers, "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
