"""The order-history import actor (SPEC §13): thin; the work is `imports.sync`."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import CurrentMessage, TimeLimitExceeded

from actors import progress
from actors.attempts import last_attempt
from actors.broker import tracked_actor
from actors.context import current_runtime
from actors.errors import PermanentError, RetryLater
from catalog.errors import CatalogError
from imports.requests import ImportRequest, InvalidPayload
from imports.sync import ImportRefused, OrderImporter
from store.job_kinds import IMPORT_ORDERS

# A year of a busy restaurant takes minutes at worst; a retry resumes anyway.
IMPORT_TIME_LIMIT_MS = 30 * 60 * 1000


@tracked_actor(IMPORT_ORDERS, time_limit=IMPORT_TIME_LIMIT_MS)
def import_orders(**payload: Any) -> None:
    """Import a restaurant's POS orders of a period; a retry or a replay resumes it."""
    try:
        request = ImportRequest.parse(payload)
    except InvalidPayload as error:
        raise PermanentError(f"malformed import_orders payload: {error}") from None
    message = CurrentMessage.get_current_message()
    if message is None:
        raise PermanentError("import_orders runs as a job only (its id is the job's)")
    runtime = current_runtime()
    importer = OrderImporter(
        runtime.transaction, runtime.orders_feed, concurrency=runtime.settings.import_concurrency
    )
    job_id = message.message_id
    try:
        outcome = importer.run(job_id, request, progress.report)
    except ImportRefused as error:
        importer.give_up(job_id, request, "failed", str(error))
        raise PermanentError(str(error)) from None
    except CatalogError as error:
        if not error.retryable:
            importer.give_up(job_id, request, "failed", str(error))
            raise PermanentError(f"the catalog refused the import: {error}") from None
        _before_retry(importer, job_id, request, error)
        # The catalog said when to come back (429 Retry-After, the breaker's cooldown): the
        # retry waits that long instead of the backoff; it is an attempt either way.
        delay_ms = int(error.retry_after * 1000) if error.retry_after else None
        raise RetryLater(str(error), delay_ms=delay_ms) from error
    except (Exception, TimeLimitExceeded) as error:
        _before_retry(importer, job_id, request, error)
        raise
    progress.result(outcome.result())


def _before_retry(
    importer: OrderImporter, job_id: str, request: ImportRequest, error: BaseException
) -> None:
    """On the last attempt record the end (`dead`, owner notified); else say whether the
    job is `partial` (some days stored) while it waits for its retry."""
    if last_attempt():
        importer.give_up(job_id, request, "dead", f"{type(error).__name__}: {error}")
    elif importer.has_stored(job_id):
        progress.partial()
