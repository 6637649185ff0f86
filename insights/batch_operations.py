"""What operators do with batches (SPEC §12, §14): list them, seal what waits now, send
an analysis. The JSON API (`usage_api/batches.py`), the dashboard's Batches page and the
CLI call these, so each action does the same thing and lands in the audit log the same
way, with who did it (a key's display prefix, or `cli`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.runtime import Runtime
from insights import batches
from insights.batch_reads import BatchFilters, batch_page
from insights.models import ANALYZED, OPEN
from operations import audit
from store.models import Restaurant
from store.restaurants import RESTAURANT_ID

logger = logging.getLogger(__name__)

# What the audit log calls these actions (SPEC §14).
SEAL = "batches.seal"
ANALYZE = "batches.analyze"
# Batch ids are BIGINT: a larger one names no batch (and would not fit the statement).
MAX_BATCH_ID = 2**63 - 1


class UnknownRestaurant(LookupError):
    """No restaurant has that id."""


def list_batches(
    runtime: Runtime, filters: BatchFilters, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of matching batches and one page of them, newest first (the API's
    batch objects). Restaurants whose events wait first get their open batch's row."""
    if filters.status in (None, OPEN):
        with runtime.transaction() as session:
            batches.ensure_open(session, filters.restaurant_id)
    with runtime.read_transaction() as session:
        return batch_page(session, filters, limit=limit, offset=offset)


def seal_waiting(
    runtime: Runtime, now: dt.datetime, *, restaurant_id: str | None = None, by: str
) -> list[int]:
    """Seal what waits now — every restaurant's, or one's — enqueue the analyses, record
    the action as done by `by`; return the sealed batch ids.

    Raises:
      UnknownRestaurant: `restaurant_id` names no restaurant.
    """
    if restaurant_id is not None:
        found = None
        if RESTAURANT_ID.fullmatch(restaurant_id):
            with runtime.read_transaction() as session:
                found = session.scalar(select(Restaurant.id).where(Restaurant.id == restaurant_id))
        if found is None:
            raise UnknownRestaurant(restaurant_id)
    sealed = batches.seal_now(runtime.sessions, runtime.broker, now, restaurant_id)
    with runtime.transaction() as session:
        audit.record(
            session,
            key_prefix=by,
            action=SEAL,
            filter={"restaurantId": restaurant_id} if restaurant_id else {},
            ids=[str(batch_id) for batch_id in sealed],
            count=len(sealed),
        )
    return sealed


@dataclass(frozen=True)
class AnalysisSent:
    """An analysis job on its way; `rerun`: the batch was analyzed already, so the job
    runs and changes nothing."""

    batch_id: int
    job_id: str
    rerun: bool


def send_analysis(runtime: Runtime, batch_id: int, *, by: str) -> AnalysisSent:
    """Send an analysis job for a sealed or analyzed batch and record the action as done
    by `by` (in the job's transaction).

    Raises:
      BatchNotFound: No such batch.
      BatchStillOpen: The batch is open (seal it first).
    """
    if not 0 < batch_id <= MAX_BATCH_ID:
        raise batches.BatchNotFound(batch_id)
    with runtime.transaction() as session:
        asked = batches.request_analysis(session, batch_id)
        audit.record(session, key_prefix=by, action=ANALYZE, ids=[str(batch_id)], count=1)
    batches.enqueue_jobs(runtime.sessions, runtime.broker, asked.job)
    rerun = asked.status == ANALYZED
    logger.info(
        "analysis job %s sent for batch %d%s by %s",
        asked.job.id,
        batch_id,
        " (analyzed already: changes nothing)" if rerun else "",
        by,
    )
    return AnalysisSent(batch_id, asked.job.id, rerun)
