"""Notification deliveries (SPEC §15): one tracked job per event and channel; thin — the
work is `alerts.deliveries`."""

from __future__ import annotations

import dramatiq

from actors import progress
from actors.attempts import last_attempt, replayed
from actors.broker import tracked_actor
from actors.context import current_runtime
from actors.errors import PermanentError
from alerts.deliveries import UnknownDelivery, deliver, reopen
from alerts.failures import DeliveryFailed, DeliveryRefused
from store.job_kinds import DELIVER_NOTIFICATION

# Past the webhook's 5 s timeout and an SMTP conversation's, with room to record.
NOTIFICATION_TIME_LIMIT_MS = 60_000


class NotificationFailed(dramatiq.errors.Retry):
    """A retryable delivery failure: retried with backoff, `dead` after the last attempt.

    (A `Retry`, so Dramatiq's worker does not log each expected retry with a traceback.)
    """


@tracked_actor(DELIVER_NOTIFICATION, time_limit=NOTIFICATION_TIME_LIMIT_MS)
def deliver_notification(delivery_id: str, restaurant_id: str | None = None) -> None:
    """Deliver notification `delivery_id` (an event to one channel); idempotent.

    `restaurant_id` is for the job row (owners see their deliveries' jobs); None for
    operator events.
    """
    if not isinstance(delivery_id, str) or not delivery_id:
        raise PermanentError(f"malformed notification job: delivery_id={delivery_id!r}")
    runtime = current_runtime()
    if replayed():
        reopen(runtime.sessions, delivery_id)
    try:
        outcome = deliver(runtime.sessions, runtime.notifiers, delivery_id, final=last_attempt())
    except (UnknownDelivery, DeliveryRefused) as error:
        raise PermanentError(str(error)) from None
    except DeliveryFailed as error:
        raise NotificationFailed(str(error)) from None
    progress.result({"deliveryId": delivery_id, "outcome": outcome})
