"""Facts about the attempt an actor is running."""

from __future__ import annotations

from dramatiq.middleware import CurrentMessage

from actors.broker import installed_broker
from actors.middleware.retries import is_last_attempt


def last_attempt() -> bool:
    """Return True when the current message will not be retried if this attempt fails."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return True
    return is_last_attempt(installed_broker(), message)


def replayed() -> bool:
    """Return True when the current message was replayed from the dead letters."""
    message = CurrentMessage.get_current_message()
    return bool(message is not None and message.options.get("replayed"))
