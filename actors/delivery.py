"""Outbox delivery retries and deferred replies (tracked jobs)."""

from __future__ import annotations

from actors import progress
from actors.attempts import last_attempt, replayed
from actors.broker import tracked_actor
from actors.context import current_runtime
from actors.errors import PermanentError
from bot.deferred import send_deferred
from bot.delivery import SendRefused, redeliver, reopen
from store.job_kinds import DELIVER_MESSAGE, SEND_DEFERRED_REPLIES


@tracked_actor(DELIVER_MESSAGE)
def deliver_message(message_id: int, restaurant_id: str | None = None) -> None:
    """Send outbox row `message_id` again (its first send failed); idempotent.

    `restaurant_id` is for the job row only (an owner sees their restaurant's deliveries).

    Retryable failures are retried with backoff until the row is sent or the job is dead
    (in the dead letters, where an operator can replay it once Twilio is back); a refusal
    fails the job at once.
    """
    runtime = current_runtime()
    if replayed():
        reopen(runtime.sessions, message_id)
    try:
        outcome = redeliver(
            runtime.sessions,
            runtime.worker_messenger,
            message_id,
            final=last_attempt(),
            retry_delay_ms=runtime.settings.queue_backoff_delay_ms,
        )
    except SendRefused as error:
        raise PermanentError(str(error)) from None
    progress.result({"messageId": message_id, "outcome": outcome})


@tracked_actor(SEND_DEFERRED_REPLIES)
def send_deferred_replies(conversation_id: int) -> None:
    """Compose (fetching the catalog) and send a conversation's waiting replies, in order."""
    runtime = current_runtime()
    sent = send_deferred(
        runtime.reception,
        runtime.sessions,
        runtime.catalog_loader,
        runtime.catalog_peek,
        conversation_id,
        final=last_attempt(),
    )
    progress.result({"conversationId": conversation_id, "messagesSent": sent})
