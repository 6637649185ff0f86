"""What every cache tier offers, and the errors the cache raises."""

from __future__ import annotations

import abc
from typing import Any, Final


class _Missing:
    """The marker for "no entry" (a cached value may itself be None)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class CacheUnavailable(Exception):
    """The shared tier (Redis) cannot be reached for an operation that needs it (purge)."""


class CacheTier(abc.ABC):
    """One level of the cache: a key-value store with a time to live per entry.

    Values are JSON-shaped (dicts, lists, strings, numbers, booleans, None) and shared:
    callers must not mutate what `get` returns.
    """

    name: str

    @abc.abstractmethod
    def get(self, key: str) -> Any:
        """Return the value under `key`, or `MISSING`."""

    @abc.abstractmethod
    def set(self, key: str, value: Any, ttl_ms: int) -> None:
        """Store `value` under `key` for `ttl_ms` milliseconds."""

    @abc.abstractmethod
    def delete(self, *keys: str) -> None:
        """Remove the given keys (absent ones are ignored)."""

    @abc.abstractmethod
    def purge_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`; return how many were removed."""
