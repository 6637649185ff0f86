"""The one place that decides what a catalog API failure means: retry, wait, or give up.

Every failure of the catalog client is a `CatalogError` with a `kind`:

| kind | when | retryable | counts against the breaker |
|---|---|---|---|
| `upstream_failure` | 5xx, timeout, connection error, unreadable 2xx body | yes | yes |
| `throttled` | 429 (`retry_after` set when `Retry-After` ≤ 60 s) | yes | no (it is alive) |
| `rejected` | any other 4xx | no | no (upstream answered) |
| `circuit_open` | the merchant's breaker is open (`CatalogUnavailable`) | yes | — |
| `not_configured` | `SUFRAH_API_BASE` is not set, or `next` leaves the API's origin | no | no |

Error bodies are opaque: only a short, single-line excerpt goes into the message.
"""

from __future__ import annotations

import email.utils
import enum
import time
from collections.abc import Mapping

import httpx

# SPEC §7: `Retry-After` is honoured up to this long; longer waits take the normal backoff.
MAX_HONOURED_RETRY_AFTER_S = 60.0
_EXCERPT_CHARS = 200


class ErrorKind(enum.StrEnum):
    """What went wrong, in terms of what a caller should do about it."""

    UPSTREAM_FAILURE = "upstream_failure"
    THROTTLED = "throttled"
    REJECTED = "rejected"
    CIRCUIT_OPEN = "circuit_open"
    NOT_CONFIGURED = "not_configured"


_RETRYABLE = {ErrorKind.UPSTREAM_FAILURE, ErrorKind.THROTTLED, ErrorKind.CIRCUIT_OPEN}


class CatalogError(Exception):
    """A catalog API call failed.

    Parameters:
      message(str): What happened, for logs (no secrets, no whole bodies).
      kind(ErrorKind): The classification; `retryable` and `trips_breaker` follow from it.
      status(int): The HTTP status, when an answer arrived.
      retry_after(float): Seconds to wait before retrying, when upstream said so (≤ 60 s).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Return True when trying again later can succeed."""
        return self.kind in _RETRYABLE

    @property
    def trips_breaker(self) -> bool:
        """Return True when this failure says the upstream is unhealthy."""
        return self.kind is ErrorKind.UPSTREAM_FAILURE

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields survive pickling (Dramatiq results, multiprocessing).
        return (_rebuild, (type(self), str(self), self.kind, self.status, self.retry_after))


class CatalogUnavailable(CatalogError):
    """The merchant's circuit breaker is open: the call was not made.

    `retry_after` is the time left until the breaker lets a trial call through.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **_: object) -> None:
        super().__init__(message, kind=ErrorKind.CIRCUIT_OPEN, retry_after=retry_after)


def _rebuild(
    cls: type[CatalogError],
    message: str,
    kind: ErrorKind,
    status: int | None,
    retry_after: float | None,
) -> CatalogError:
    return cls(message, kind=kind, status=status, retry_after=retry_after)


def error_for_response(response: httpx.Response, what: str) -> CatalogError:
    """Return the error a non-2xx `response` to the request `what` stands for."""
    status = response.status_code
    message = f"catalog answered {status} to {what}{_excerpt(response)}"
    if status == 429:
        wait = parse_retry_after(response.headers)
        if wait is None:
            raw = response.headers.get("Retry-After")
            note = f" (Retry-After {raw!r} not honoured: normal backoff)" if raw else ""
            return CatalogError(message + note, kind=ErrorKind.THROTTLED, status=status)
        return CatalogError(
            f"{message} (retry after {wait:g} s)",
            kind=ErrorKind.THROTTLED,
            status=status,
            retry_after=wait,
        )
    if 400 <= status < 500:
        return CatalogError(message, kind=ErrorKind.REJECTED, status=status)
    # 5xx, and anything else a JSON API should not answer (1xx/3xx that httpx hands back).
    return CatalogError(message, kind=ErrorKind.UPSTREAM_FAILURE, status=status)


def error_for_transport(error: httpx.TransportError, what: str) -> CatalogError:
    """Return the error for a request that got no answer (timeout, refused, dropped)."""
    reason = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    detail = str(error) or type(error).__name__
    return CatalogError(
        f"catalog request {what} {reason}: {type(error).__name__}: {detail}",
        kind=ErrorKind.UPSTREAM_FAILURE,
    )


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Return the seconds `Retry-After` asks for, or None when absent, bad or over 60 s."""
    raw = (headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        seconds = float(raw)
    else:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    return seconds if seconds <= MAX_HONOURED_RETRY_AFTER_S else None


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.content[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")
    except httpx.HTTPError:
        return ""
    text = " ".join(text.split())[:_EXCERPT_CHARS]
    return f": {text}" if text else ""
