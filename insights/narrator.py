"""The optional narrative: a short summary of a restaurant's week from an LLM (SPEC §12).

Off unless `INSIGHTS_LLM_URL` is set: an OpenAI-compatible base URL (as OpenAI clients
take it, e.g. `https://api.openai.com/v1`); we `POST {url}/chat/completions`. Only
aggregates go into the prompt — totals, the funnel, the busiest hours, how often each
menu category was opened, delivery failures by error code — never a message body, an
unrecognised text, a name or a number of a customer.

The endpoint has its own circuit breaker (the Redis-shared one the catalog uses, under
`<ns>:breaker:insights-llm:…`): after `INSIGHTS_LLM_BREAKER_FAILURES` failures in a row —
no answer within 10 s, a 4xx/5xx, or an answer that is not a chat completion with some
text — it opens for `INSIGHTS_LLM_BREAKER_COOLDOWN_MS`, and the summary is `null` while it
is open. A failed refresh clears the stored summary: the findings alone are served.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import httpx
import redis
from sqlalchemy.orm import Session, sessionmaker

from catalog.breaker import CircuitBreaker
from catalog.errors import CatalogError, ErrorKind
from insights.findings import WEEKDAYS, Figures
from insights.models import RestaurantInsight
from insights.report import Subject, read_figures
from store.dialects import upsert_for
from store.periods import Period, default_period
from store.redis import Keys
from store.settings import Settings

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0
BREAKER_NAME = "insights-llm"
BREAKER_KEY = "endpoint"  # one breaker for the one endpoint
MAX_SUMMARY = 2000
# A stored summary of the same period is asked for again after this long.
REFRESH_AFTER = dt.timedelta(minutes=10)

SYSTEM_PROMPT = (
    "You summarise a week of a restaurant's WhatsApp ordering bot for its owner. Use only "
    "the aggregate figures given (JSON). Write at most five plain English sentences, no "
    "lists: what stands out, and one concrete thing to try."
)


class NarratorFailed(CatalogError):
    """The LLM endpoint did not give a usable summary (down, slow, refused, garbage)."""

    def __init__(self, message: str, **_: object) -> None:
        super().__init__(message, kind=ErrorKind.UPSTREAM_FAILURE)


class Narrator:
    """Asks an OpenAI-compatible endpoint for a summary, behind its own breaker.

    Parameters:
      settings(Settings): `INSIGHTS_LLM_*`.
      client(redis.Redis): Where the breaker's state lives.
      timeout_s(float): How long an answer may take (10 s; tests shorten it).
    """

    def __init__(
        self, settings: Settings, client: redis.Redis, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        self.url = settings.insights_llm_url
        self.model = settings.insights_llm_model
        self.api_key = settings.insights_llm_api_key
        self.timeout_s = timeout_s
        self.breaker = CircuitBreaker(
            client,
            Keys(settings.redis_namespace),
            failure_threshold=settings.insights_llm_breaker_failures,
            cooldown_ms=settings.insights_llm_breaker_cooldown_ms,
            name=BREAKER_NAME,
        )
        self._http: httpx.Client | None = None

    @property
    def configured(self) -> bool:
        """Return True when `INSIGHTS_LLM_URL` is set."""
        return bool(self.url)

    def serves_summaries(self) -> bool:
        """Return True when a stored summary may be served: configured, breaker not open
        (Redis unreachable: the breaker fails open, so yes)."""
        if not self.configured:
            return False
        try:
            return self.breaker.state(BREAKER_KEY) != "open"
        except redis.RedisError:
            return True

    def summarise(self, facts: dict[str, Any]) -> str | None:
        """Return the endpoint's summary of `facts`, or None (unset, breaker open, failed)."""
        if not self.configured:
            return None
        try:
            return self.breaker.call(BREAKER_KEY, lambda: self._ask(facts))
        except CatalogError as error:
            logger.warning("insights summary unavailable: %s", error)
            return None

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            self._http.close()

    def _client(self) -> httpx.Client:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._http = httpx.Client(timeout=self.timeout_s, headers=headers)
        return self._http

    def _ask(self, facts: dict[str, Any]) -> str:
        url = f"{str(self.url).rstrip('/')}/chat/completions"
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(facts, ensure_ascii=False)},
            ],
            "temperature": 0.2,
        }
        try:
            response = self._client().post(url, json=body)
        except httpx.HTTPError as error:
            raise NarratorFailed(f"LLM request failed: {type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise NarratorFailed(f"LLM answered {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise NarratorFailed("LLM answer is not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise NarratorFailed("LLM answer has no text")
        return content.strip()[:MAX_SUMMARY]


def facts_of(figures: Figures, period: Period) -> dict[str, Any]:
    """Return the aggregates a summary is written from — nothing about any one customer
    (no texts they typed, no names, no numbers)."""
    totals = figures.totals
    slots = sorted(
        ((count, day, hour) for day, row in enumerate(figures.heatmap)
         for hour, count in enumerate(row) if count),
        key=lambda slot: (-slot[0], slot[1], slot[2]),
    )[:3]  # fmt: skip
    names = dict(figures.menu or [])
    opened = sorted(figures.category_opens.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "period": {"from": period.first.isoformat(), "to": period.last.isoformat()},
        "conversations": totals["conversations"],
        "newCustomers": totals["new_customers"],
        "returningCustomers": totals["returning_customers"],
        "messagesIn": totals["messages_in"],
        "menuShown": totals["menu_shown"],
        "branchesShown": totals["branches_shown"],
        "branchChoices": totals["branch_choices"],
        "optOuts": totals["opt_outs"],
        "previousPeriod": {
            "conversations": figures.previous["conversations"],
            "optOuts": figures.previous["opt_outs"],
        },
        "funnel": figures.funnel,
        "busiestHours": [
            {"weekday": WEEKDAYS[day], "hour": hour, "conversations": count}
            for count, day, hour in slots
        ],
        "categoryOpens": [
            {"category": names.get(cid) or cid, "opens": count} for cid, count in opened
        ],
        "unopenedCategories": sum(1 for cid in names if figures.category_opens.get(cid, 0) == 0),
        "unrecognisedTexts": totals["unrecognised_texts"],
        "deliveryFailuresByCode": dict(sorted(figures.error_codes.items())),
    }


def refresh_summary(
    sessions: sessionmaker[Session],
    narrator: Narrator,
    subject: Subject,
    *,
    now: dt.datetime,
    menu: list[dict[str, Any]] | None,
) -> str | None:
    """Ask for a new summary of the default period (the last 7 local days) unless one of
    that period is younger than `REFRESH_AFTER`; store it (None when it failed).

    Returns the summary now stored.
    """
    if not narrator.configured:
        return None
    period = default_period(now, subject.timezone)
    with sessions() as session:
        row = session.get(RestaurantInsight, subject.restaurant_id)
        if (
            row is not None
            and row.summary
            and (row.summary_first, row.summary_last) == (period.first, period.last)
            and row.summary_at is not None
            and now - row.summary_at < REFRESH_AFTER
        ):
            return row.summary
        figures = read_figures(session, subject, period, menu)
    summary = narrator.summarise(facts_of(figures, period))
    with sessions() as session, session.begin():
        values = {
            "summary": summary,
            "summary_first": period.first,
            "summary_last": period.last,
            "summary_at": now,
        }
        insert = upsert_for(session.get_bind().dialect.name)(RestaurantInsight).values(
            restaurant_id=subject.restaurant_id, **values
        )
        key = [RestaurantInsight.restaurant_id]
        session.execute(insert.on_conflict_do_update(index_elements=key, set_=values))
    return summary
