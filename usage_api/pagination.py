"""`limit`/`offset` pagination shared by the API's lists (usage, jobs, dead letters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import ApiError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Larger offsets could not be bound as a 64-bit integer; no list is that long anyway.
MAX_OFFSET = 2**63 - 1

_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a list the client asked for, limit already capped."""

    limit: int
    offset: int

    def pagination(self, total: int) -> dict[str, Any]:
        """Return the response's `pagination` object for a list of `total` items."""
        return {
            "total": total,
            "limit": self.limit,
            "offset": self.offset,
            "hasMore": self.offset + self.limit < total,
        }


def page_request(
    args: Mapping[str, str], *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> PageRequest:
    """Read `limit` and `offset` from query arguments; a limit above `max_limit` is capped.

    Raises:
      ApiError: 400 `invalid_parameter` for a non-integer, `limit` < 1 or `offset` < 0.
    """
    limit = _integer(args, "limit", default_limit)
    offset = _integer(args, "offset", 0)
    if limit < 1:
        raise _invalid("limit", "must be 1 or more")
    if offset < 0:
        raise _invalid("offset", "must be 0 or more")
    if offset > MAX_OFFSET:
        raise _invalid("offset", f"must be at most {MAX_OFFSET}")
    return PageRequest(limit=min(limit, max_limit), offset=offset)


def _integer(args: Mapping[str, str], name: str, default: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    # Stricter than int(): no spaces, "+", "_" or non-ASCII digits.
    if not value.isascii() or not _INTEGER.fullmatch(value):
        raise _invalid(name, "must be an integer")
    try:
        return int(value)
    except ValueError:  # more digits than Python converts
        raise _invalid(name, "is too large") from None


def _invalid(name: str, problem: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{name} {problem}")
