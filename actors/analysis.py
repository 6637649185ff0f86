"""The analysis of insight batches (SPEC §12): thin; the work is `insights.folding`.

`analyze_batch` is tracked like every job (its row, progress in events, retries with
backoff, dead letters, recovery). It is safe to run any number of times: the fold claims
its batch in the transaction that writes the aggregates, so a duplicate delivery, a
replay from the dead letters or a manual re-analysis changes nothing.
"""

from __future__ import annotations

import logging
import time

from actors import progress
from actors.broker import tracked_actor
from actors.context import current_runtime
from actors.errors import PermanentError
from bot.runtime import Runtime
from insights.folding import OpenBatch, UnknownBatch, fold_batch
from insights.narrator import refresh_summary
from insights.report import Subject
from store.job_kinds import ANALYZE_BATCH
from store.metrics import INSIGHT_ANALYSIS_SECONDS, INSIGHT_BATCHES_ANALYZED
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


@tracked_actor(ANALYZE_BATCH)
def analyze_batch(batch_id: int, restaurant_id: str | None = None) -> None:
    """Fold sealed batch `batch_id` into its restaurant's hourly aggregates; idempotent.

    `restaurant_id` is for the job row (an owner sees their restaurant's analyses).
    """
    if isinstance(batch_id, bool) or not isinstance(batch_id, int) or batch_id < 1:
        raise PermanentError(
            f"malformed analyze_batch payload: batch_id must be a positive integer, "
            f"got {batch_id!r}"
        )
    if restaurant_id is not None and not isinstance(restaurant_id, str):
        raise PermanentError(
            f"malformed analyze_batch payload: restaurant_id must be a string, "
            f"got {restaurant_id!r}"
        )
    runtime = current_runtime()
    started = time.perf_counter()
    try:
        with runtime.transaction() as session:
            result = fold_batch(session, batch_id, now=utcnow(), progress=progress.report)
    except (UnknownBatch, OpenBatch) as error:
        raise PermanentError(f"analyze_batch: {error}") from None
    elapsed = time.perf_counter() - started
    if result.folded:
        INSIGHT_BATCHES_ANALYZED.inc()
        INSIGHT_ANALYSIS_SECONDS.observe(elapsed)
        _summarise(runtime, result.restaurant_id)
    else:
        progress.report(result.events, result.events, "already analyzed")
    progress.result(result.summary())
    logger.info(
        "insight batch %s of %s %s: %d events in %.0f ms",
        batch_id,
        result.restaurant_id,
        "folded" if result.folded else "already analyzed, nothing changed",
        result.events,
        elapsed * 1000,
    )


def _summarise(runtime: Runtime, restaurant_id: str) -> None:
    """Refresh the restaurant's narrative summary; a failure never fails the analysis."""
    narrator = runtime.insights_narrator
    if not narrator.configured:
        return
    try:
        tenant = runtime.tenants.by_id(restaurant_id)
        if tenant is None:
            return
        subject = Subject(tenant.id, tenant.timezone, tenant.merchant_id)
        menu = runtime.catalog_peek.categories(tenant.merchant_id)
        refresh_summary(runtime.sessions, narrator, subject, now=utcnow(), menu=menu)
    except Exception:
        logger.exception("insights summary of %s not refreshed", restaurant_id)
