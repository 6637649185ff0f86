"""What an import tells its restaurant's owner when it ends (SPEC §15 events).

`import.completed` (`orders`, `jobId`) when it succeeded, `import.failed` (`jobId`,
`error`) when it ended `dead` (retries exhausted) or `failed` (refused for good). Each is
called inside the transaction that records the end of the import, so a notice is written
exactly when that end is.

HOOK: the alerts package (branch i14-alerts) owns the event outbox; at merge these two
functions call its emit function with the same session instead of only logging.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


def import_completed(session: Session, *, restaurant_id: str, job_id: str, orders: int) -> None:
    """Notify the owner that import `job_id` succeeded with `orders` orders."""
    logger.info(
        "notice import.completed restaurant=%s job=%s orders=%d", restaurant_id, job_id, orders
    )


def import_failed(session: Session, *, restaurant_id: str, job_id: str, error: str) -> None:
    """Notify the owner that import `job_id` ended without finishing (what it stored stays)."""
    logger.warning(
        "notice import.failed restaurant=%s job=%s error=%s", restaurant_id, job_id, error[:500]
    )
