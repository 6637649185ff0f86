"""The welcome bootstrap (SPEC §5): warm what a new customer will ask for next.

Menu categories, the branch list and the templates (the restaurant's and the platform's,
from Twilio's Content API) are fetched in parallel through the cache: data still fresh is
not fetched again, and concurrent bootstraps share one upstream call per resource and per
template, across processes. A resource that fails is reported, the others stay cached:
the caller retries only what failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.messenger import Messenger
from cache.two_tier import TwoTierCache
from catalog.errors import CatalogError
from catalog.reader import CatalogReader, Resource
from store.timeutil import parse_iso_z

logger = logging.getLogger(__name__)

# Templates change rarely; a day in the cache is plenty.
TEMPLATE_TTL_MS = 24 * 3_600_000
# A template Twilio refused (4xx) is remembered as refused this long, so that the
# bootstraps of its restaurant do not call the Content API again (and take a rate-limit
# slot) on every new customer; a fixed SID is picked up after this.
REFUSED_TEMPLATE_TTL_MS = 10 * 60_000
_REQUESTED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RESOURCES: tuple[Resource, ...] = ("categories", "branches")


class InvalidPayload(ValueError):
    """A bootstrap message whose arguments are missing or malformed (never retried)."""


@dataclass(frozen=True)
class BootstrapRequest:
    """A validated welcome-bootstrap payload."""

    restaurant_id: str
    merchant_id: str
    customer: str
    requested_at: dt.datetime

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> BootstrapRequest:
        """Validate the keyword arguments of a bootstrap message.

        Raises:
          InvalidPayload: Naming the first missing, unexpected or malformed argument.
        """
        expected = {"restaurant_id", "merchant_id", "customer", "requested_at"}
        unexpected = sorted(set(payload) - expected)
        if unexpected:
            raise InvalidPayload(f"unexpected arguments: {', '.join(unexpected)}")
        values = {}
        for name in ("restaurant_id", "merchant_id", "customer", "requested_at"):
            value = payload.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > 128:
                raise InvalidPayload(f"{name} must be a non-empty string of at most 128")
            values[name] = value.strip()
        if not _REQUESTED_AT.match(values["requested_at"]):
            raise InvalidPayload("requested_at must be ISO 8601 UTC with milliseconds and Z")
        try:
            requested_at = parse_iso_z(values["requested_at"])
        except ValueError:
            raise InvalidPayload("requested_at is not a valid timestamp") from None
        return cls(values["restaurant_id"], values["merchant_id"], values["customer"], requested_at)


@dataclass
class Outcome:
    """What one bootstrap attempt did."""

    counts: dict[str, int] = field(default_factory=dict)  # resource -> items cached
    fresh: list[str] = field(default_factory=list)  # already cached, not fetched
    templates: int = 0
    failures: dict[str, CatalogError | Exception] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failures

    @property
    def retryable(self) -> bool:
        """Return True when every failure may succeed on a retry."""
        return all(getattr(error, "retryable", True) for error in self.failures.values())

    def step(self, attempted: int) -> str:
        """Return what this attempt did with the `attempted` stale entries, for the job's
        progress: `done`, `partly done; failed: branches`, or `failed: categories,
        branches` when nothing could be fetched."""
        if self.complete:
            return "done"
        failed = ", ".join(self.failures)
        if len(self.failures) >= attempted:
            return f"failed: {failed}"
        return f"partly done; failed: {failed}"

    def summary(self) -> dict[str, Any]:
        """Return the result recorded on the job."""
        return {
            "categories": self.counts.get("categories"),
            "branches": self.counts.get("branches"),
            "templates": self.templates,
            "cacheHits": len(self.fresh),
            "failed": {name: str(error)[:200] for name, error in self.failures.items()},
        }


class WelcomeBootstrap:
    """Warms a merchant's catalog and the templates a restaurant uses.

    Parameters:
      reader(CatalogReader): The catalog through cache and breaker.
      cache(TwoTierCache): Where templates are kept.
      messenger(Messenger): Fetches templates from Twilio's Content API.
      executor(Executor): Runs the fetches in parallel.
      fetch_templates(bool): Whether templates are fetched (not in console mode).
    """

    def __init__(
        self,
        reader: CatalogReader,
        cache: TwoTierCache,
        messenger: Messenger,
        executor: Executor,
        *,
        fetch_templates: bool,
    ) -> None:
        self.reader = reader
        self.cache = cache
        self.messenger = messenger
        self.executor = executor
        self.fetch_templates = fetch_templates

    def stale(self, merchant_id: str, template_sids: Iterable[str]) -> list[str]:
        """Return what Redis does not hold (one round trip): resource names and
        `template:<sid>` entries; everything when Redis is down."""
        keys: dict[str, str] = {name: self.reader.key(merchant_id, name) for name in RESOURCES}
        if self.fetch_templates:
            keys |= {f"template:{sid}": self.reader.keys.template(sid) for sid in template_sids}
        remaining = self.cache.remaining_ttls_ms(list(keys.values()))
        return [entry for entry, ttl in zip(keys, remaining, strict=True) if ttl is None]

    def run(self, merchant_id: str, stale: list[str]) -> Outcome:
        """Fetch every stale entry through the cache, all in parallel, and count them."""
        outcome = Outcome()
        tasks: dict[str, Callable[[], int]] = {}
        for entry in stale:
            if entry.startswith("template:"):
                tasks[entry] = partial(self._template, entry.split(":", 1)[1])
            elif entry in RESOURCES:
                tasks[entry] = partial(self._resource, entry, merchant_id)
        outcome.fresh = [name for name in RESOURCES if name not in stale]
        for name in outcome.fresh:
            outcome.counts[name] = len(_cached(self.reader, merchant_id, name))
        if not tasks:
            return outcome
        # The first task runs in this thread: one hand-off and one pool thread fewer.
        first, *others = tasks
        futures = {name: self.executor.submit(tasks[name]) for name in others}
        for name in tasks:
            try:
                fetched = tasks[name]() if name == first else futures[name].result()
            except Exception as error:
                outcome.failures[name] = error
            else:
                if name.startswith("template:"):
                    outcome.templates += fetched
                else:
                    outcome.counts[name] = fetched
        return outcome

    def _resource(self, name: str, merchant_id: str) -> int:
        """Cache a catalog resource (one upstream fetch across processes); return its size."""
        loader = self.reader.categories if name == "categories" else self.reader.branches
        return len(loader(merchant_id))

    def _template(self, sid: str) -> int:
        """Cache template `sid` (one Content API call across processes); 0 when refused."""
        try:
            self.cache.get_or_load(
                self.reader.keys.template(sid),
                lambda: self.messenger.fetch_content(sid),
                TEMPLATE_TTL_MS,
            )
        except Exception as error:
            if not _rejected(error):
                raise
            logger.warning("template %s cannot be fetched (%s); skipped", sid, error)
            refused = {"refused": getattr(error, "status", None)}
            self.cache.set(self.reader.keys.template(sid), refused, REFUSED_TEMPLATE_TTL_MS)
            return 0
        return 1


def _cached(reader: CatalogReader, merchant_id: str, resource: str) -> list[Any]:
    peek = reader.peek_categories if resource == "categories" else reader.peek_branches
    return peek(merchant_id) or []


def _rejected(error: Exception) -> bool:
    """Return True for a 4xx from Twilio other than 429: retrying will not help."""
    status = getattr(error, "status", None)
    return isinstance(status, int) and 400 <= status < 500 and status != 429
