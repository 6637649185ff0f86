"""The welcome-bootstrap actor (SPEC §5): thin; the work is `bot.bootstrap`."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from actors import progress
from actors.broker import tracked_actor
from actors.context import current_runtime
from actors.errors import PermanentError, Postpone, RetryLater
from bot.bootstrap import BootstrapRequest, InvalidPayload, Outcome
from bot.limits import BOOTSTRAP_TIME_LIMIT_MS
from catalog.errors import CatalogError
from store.job_kinds import WELCOME_BOOTSTRAP

logger = logging.getLogger(__name__)


class BootstrapIncomplete(RetryLater):
    """Some resources could not be fetched; they are retried (the rest stay cached)."""


@tracked_actor(WELCOME_BOOTSTRAP, time_limit=BOOTSTRAP_TIME_LIMIT_MS)
def welcome_bootstrap(**payload: Any) -> None:
    """Warm a new customer's menu, branches and templates; idempotent."""
    started = time.perf_counter()
    try:
        request = BootstrapRequest.parse(payload)
    except InvalidPayload as error:
        raise PermanentError(f"malformed bootstrap payload: {error}") from None
    runtime = current_runtime()
    tenant = runtime.tenants.by_id(request.restaurant_id)
    if tenant is None:
        raise PermanentError(f"unknown restaurant {request.restaurant_id!r}")
    templates = sorted(
        {
            sid
            for sid in (
                tenant.welcome_content_sid,
                *tenant.template_sids.values(),
                *runtime.settings.content_sids.values(),
            )
            if sid
        }
    )
    bootstrap = runtime.bootstrap
    stale = bootstrap.stale(request.merchant_id, templates)
    if not stale:
        # Everything still fresh: done at once, without a rate-limit slot.
        _finish(request, bootstrap.run(request.merchant_id, []), started)
        return
    limits = runtime.bootstrap_limits
    with limits.running().acquire(raise_on_failure=False) as running:
        if not running:
            raise Postpone(random.randint(200, 1000), "bootstrap concurrency limit")
        with limits.starts(request.merchant_id).acquire(raise_on_failure=False) as admitted:
            if not admitted:
                delay = int(60_000 / limits.per_minute * random.uniform(1, 2))
                raise Postpone(delay, f"bootstrap rate limit of {request.merchant_id}")
            progress.report(0, len(stale), "fetching")
            outcome = bootstrap.run(request.merchant_id, stale)
    done = len(stale) - len(outcome.failures)
    progress.report(done, len(stale), outcome.step(len(stale)))
    _finish(request, outcome, started)


def _finish(request: BootstrapRequest, outcome: Outcome, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    counts = outcome.counts
    progress.result(outcome.summary())
    line = (
        f"merchant={request.merchant_id} customer={request.customer[:5]}… {elapsed_ms:.0f}ms "
        f"categories={counts.get('categories', '-')} branches={counts.get('branches', '-')} "
        f"templates={outcome.templates} cache_hits={len(outcome.fresh)}"
    )
    if outcome.complete:
        logger.info("welcome bootstrap done %s", line)
        return
    failed = ", ".join(f"{name}: {error}" for name, error in outcome.failures.items())
    # At INFO: the job fails, and its retry (or final) line names what failed at WARNING.
    logger.info("welcome bootstrap incomplete %s failed=[%s]", line, failed)
    if not outcome.retryable:
        raise PermanentError(f"catalog refused the bootstrap: {failed}")
    if outcome.counts or outcome.templates:
        progress.partial()
    delays = [
        error.retry_after for error in outcome.failures.values()
        if isinstance(error, CatalogError) and error.retry_after
    ]  # fmt: skip
    # When the catalog said when to come back (429 Retry-After, the breaker's cooldown),
    # the retry waits that long instead of the backoff; either way it is an attempt, so a
    # catalog that keeps refusing ends in the dead letters, not in an endless loop.
    delay_ms = int(max(delays) * 1000) if delays else None
    raise BootstrapIncomplete(failed, delay_ms=delay_ms)
