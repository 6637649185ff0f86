"""Redis connections and the key namespace every Redis key of ours lives under."""

from __future__ import annotations

from dataclasses import dataclass

import redis

# Redis calls on request paths must fail fast when Redis is down, not hang the request.
SOCKET_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 1.0


def make_redis(url: str, *, decode_responses: bool = False) -> redis.Redis:
    """Return a pooled client for `url` with short timeouts (the caller decides on failure)."""
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=30,
        max_connections=64,
    )


# Where a client points when REDIS_URL is unset: every call fails like an outage would
# (callers already handle that), and its error names the missing variable.
_NOT_CONFIGURED = "/nonexistent/REDIS_URL-is-not-set"


def unconfigured_redis() -> redis.Redis:
    """Return a client that fails every call, for a process started without REDIS_URL."""
    return redis.Redis(unix_socket_path=_NOT_CONFIGURED)


def is_unconfigured(error: BaseException) -> bool:
    """Return True when `error` came from `unconfigured_redis()`."""
    return _NOT_CONFIGURED in str(error)


@dataclass(frozen=True)
class Keys:
    """Builds Redis keys under `REDIS_NAMESPACE`, so deployments and test runs can share Redis."""

    namespace: str

    def __call__(self, *parts: object) -> str:
        """Return `<namespace>:<part>:<part>…`."""
        return ":".join([self.namespace, *(str(part) for part in parts)])

    def pattern(self, *parts: object) -> str:
        """Return a SCAN pattern for keys under the given parts."""
        return self(*parts, "*")
