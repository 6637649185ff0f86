"""A small Python client for the usage API (SPEC §8), over httpx.

    with UsageClient("https://bot.example.com", token="rbpat_…", restaurant_id="r1") as api:
        usage = api.own_usage()
        print(usage.conversations_this_month, usage.allowance.monthly_remaining)

    with UsageClient("https://bot.example.com", api_key="rbkey_…") as api:
        for usage in api.iter_usage():
            ...
        detail = api.restaurant_usage("r1")

Answers are dataclasses with `datetime` timestamps; error answers raise `UsageApiError`
carrying the API's HTTP status and error code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from store.timeutil import parse_iso_z
from store.usage_values import Allowance, MonthUsage, RestaurantUsage

DEFAULT_TIMEOUT_S = 10.0


class UsageApiError(Exception):
    """An error answer of the API.

    Parameters:
      status: The HTTP status (401, 403, …).
      code: The API's error code (`invalid_credentials`, …), or `http_error` when the
        answer was not the API's JSON error (a proxy's page, say).
      message: The API's human-readable message.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


# The API's values are the read model's own (`store.usage_values`), by the client's names.
Usage = RestaurantUsage
HistoryMonth = MonthUsage


@dataclass(frozen=True)
class UsageDetail:
    """A restaurant's usage and its last six months, newest first."""

    usage: Usage
    history: list[HistoryMonth]


@dataclass(frozen=True)
class Pagination:
    total: int
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True)
class UsagePage:
    """One page of every restaurant's usage."""

    data: list[Usage]
    pagination: Pagination


class UsageClient:
    """Talk to the usage API as an owner (`token` + `restaurant_id`) or an admin (`api_key`).

    Parameters:
      base_url: The service's scheme and host, e.g. `https://bot.example.com`.
      token: An owner's personal access token (`rbpat_…`); needs `restaurant_id`.
      restaurant_id: The token's restaurant.
      api_key: An admin API key (`rbkey_…`).
      timeout: Seconds for connect, read and write.
      transport: An httpx transport to use instead of the network (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        restaurant_id: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (api_key is None) == (token is None):
            raise ValueError("give either api_key (admin) or token and restaurant_id (owner)")
        if token is not None and not restaurant_id:
            raise ValueError("a token needs its restaurant_id")
        headers = {"Accept": "application/json"}
        if api_key is not None:
            headers["X-API-Key"] = api_key
        else:
            headers["Authorization"] = f"Bearer {token}"
            headers["X-Restaurant-Id"] = str(restaurant_id)
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def own_usage(self) -> Usage:
        """Return the token's restaurant's usage (owner)."""
        return _usage(self._get("/api/usage"))

    def list_usage(self, *, limit: int | None = None, offset: int | None = None) -> UsagePage:
        """Return one page of every restaurant's usage (admin); the API caps `limit` at 100."""
        params = {
            name: value
            for name, value in (("limit", limit), ("offset", offset))
            if value is not None
        }
        body = self._get("/api/usage", params=params)
        page = body["pagination"]
        return UsagePage(
            data=[_usage(item) for item in body["data"]],
            pagination=Pagination(
                total=page["total"],
                limit=page["limit"],
                offset=page["offset"],
                has_more=page["hasMore"],
            ),
        )

    def iter_usage(self, *, page_size: int = 100) -> Iterator[Usage]:
        """Yield every restaurant's usage, page after page (admin)."""
        offset = 0
        while True:
            page = self.list_usage(limit=page_size, offset=offset)
            yield from page.data
            if not page.pagination.has_more or not page.data:
                return
            offset += len(page.data)

    def restaurant_usage(self, restaurant_id: str) -> UsageDetail:
        """Return a restaurant's usage and six months of history (admin)."""
        body = self._get(f"/api/usage/{quote(restaurant_id, safe='')}")
        history = [
            HistoryMonth(
                year=month["year"],
                month=month["month"],
                conversation_count=month["conversationCount"],
                last_conversation_at=_time(month["lastConversationAt"]),
            )
            for month in body["history"]
        ]
        return UsageDetail(usage=_usage(body), history=history)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> UsageClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.get(path, params=params)
        if response.is_success:
            body: dict[str, Any] = response.json()
            return body
        raise _error(response)


def _error(response: httpx.Response) -> UsageApiError:
    try:
        error = response.json()["error"]
        return UsageApiError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return UsageApiError(response.status_code, "http_error", response.text[:200])


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_iso_z(value)


def _usage(body: dict[str, Any]) -> Usage:
    allowance = body["allowance"]
    return Usage(
        restaurant_id=body["restaurantId"],
        restaurant_name=body["restaurantName"],
        conversations_this_month=body["conversationsThisMonth"],
        last_conversation_at=_time(body["lastConversationAt"]),
        allowance=Allowance(
            daily_limit=allowance["dailyLimit"],
            daily_remaining=allowance["dailyRemaining"],
            monthly_limit=allowance["monthlyLimit"],
            monthly_remaining=allowance["monthlyRemaining"],
        ),
        first_activity=_time(body["firstActivity"]),
        last_activity=_time(body["lastActivity"]),
        is_active=body["isActive"],
    )
