"""Messages that cannot even be passed to their actor fail at once, recorded, not retried.

Dramatiq calls `actor(*message.args, **message.kwargs)`. A message whose arguments do not
fit the actor's signature (positional arguments for a keyword-only actor, `kwargs` that
is null or a list, a missing or unexpected argument) raises a `TypeError` there, which
retrying cannot fix: without this check it would be retried until dead-lettered, and
`kwargs` that are not a mapping would even break Dramatiq's own log line for it. Checked
before the actor runs; such a message is given up as permanently failed (its job row says
`failed`) and goes to the dead letters, where an operator can see and delete it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any

import dramatiq
from dramatiq.middleware import MiddlewareError

from actors.errors import PermanentError


class MalformedMessage(PermanentError, MiddlewareError):
    """The message's arguments cannot be passed to its actor."""


@functools.cache
def _signature(fn: Any) -> inspect.Signature:
    return inspect.signature(fn)


def shape_problem(fn: Any, args: Any, kwargs: Any) -> str | None:
    """Return why `fn(*args, **kwargs)` cannot be called, or None when it can."""
    if not isinstance(args, list | tuple):
        return f"args must be a list, not {type(args).__name__}"
    if not isinstance(kwargs, Mapping):
        return f"kwargs must be a mapping, not {type(kwargs).__name__}"
    try:
        _signature(fn).bind(*args, **kwargs)
    except TypeError as error:
        return str(error)
    return None


class MessageShape(dramatiq.Middleware):
    """Fails a message at once when its arguments do not fit its actor."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        try:
            actor = broker.get_actor(message.actor_name)
        except dramatiq.errors.ActorNotFound:
            return
        problem = shape_problem(actor.fn, message.args, message.kwargs)
        if problem is not None:
            raise MalformedMessage(f"malformed message for {message.actor_name}: {problem}")
