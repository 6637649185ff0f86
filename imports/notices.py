"""What an import tells its restaurant's owner when it ends (SPEC §15 events).

`import.completed` (`orders`, `jobId`) when it succeeded, `import.failed` (`jobId`,
`error`) when it ended `dead` (retries exhausted) or `failed` (refused for good). Each is
written inside the transaction that records the end of the import, through the alerts
outbox, so a notice exists exactly when that end does; the delivery jobs it returns are
enqueued after commit (or by the relay, should that fail).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from alerts import events
from store.models import Job
from store.timeutil import utcnow

logger = logging.getLogger(__name__)


def import_completed(
    session: Session, *, restaurant_id: str, job_id: str, orders: int
) -> list[Job]:
    """Notify the owner that import `job_id` succeeded with `orders` orders; return the
    delivery jobs to enqueue after commit."""
    logger.info(
        "notice import.completed restaurant=%s job=%s orders=%d", restaurant_id, job_id, orders
    )
    data = {"orders": orders, "jobId": job_id}
    return events.emit(session, events.IMPORT_COMPLETED, restaurant_id, data, utcnow())


def import_failed(session: Session, *, restaurant_id: str, job_id: str, error: str) -> list[Job]:
    """Notify the owner that import `job_id` ended without finishing (what it stored stays);
    return the delivery jobs to enqueue after commit."""
    logger.warning(
        "notice import.failed restaurant=%s job=%s error=%s", restaurant_id, job_id, error[:500]
    )
    data = {"jobId": job_id, "error": error[:500]}
    return events.emit(session, events.IMPORT_FAILED, restaurant_id, data, utcnow())
