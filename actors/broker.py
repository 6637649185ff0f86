"""The one place the Dramatiq broker is built (Redis, or RabbitMQ for `amqp://` URLs).

`build_broker()` makes a broker for enqueuing (the web process, the relay); `setup_broker()`
also installs it as Dramatiq's global broker, which actor modules bind to when they are
declared with `tracked_actor()`. The worker process runs `actors.context.setup()` first,
which calls `setup_broker()`, then imports the actor modules.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import redis
from dramatiq.actor import ActorDecorator
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from actors.acks import JournalingRedisBroker
from actors.job_states import JOURNAL
from actors.middleware.failure_logs import ExpectedFailureLogs
from actors.middleware.jobs import JobTracking
from actors.middleware.metrics import JobMetrics
from actors.middleware.reconnect import OnceMoreOnDisconnect
from actors.middleware.retries import Retries
from actors.middleware.shape import MessageShape
from store.job_kinds import JobKind
from store.redis import Keys, unconfigured_redis
from store.settings import Settings

logger = logging.getLogger(__name__)

# The broker's own Redis calls run Lua scripts that may scan many keys during
# maintenance, so they get a longer socket timeout than request-path calls.
BROKER_SOCKET_TIMEOUT_S = 10.0
# Out of a million broker commands, how many also run the dead-worker sweep. Dramatiq's
# default (1,000) leaves a killed worker's messages stranded for minutes; the sweep is
# cheap, so we run it more often (and the scheduler also runs it every few seconds).
MAINTENANCE_CHANCE = 20_000

_installed: dramatiq.Broker | None = None


def build_broker(settings: Settings) -> dramatiq.Broker:
    """Return a new broker for `BROKER_URL` (else `REDIS_URL`) with our middleware."""
    url = settings.effective_broker_url
    middleware: list[dramatiq.Middleware] = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        # Before Retries: Dramatiq runs `after_*` hooks in reverse order, and these
        # must see what Retries decided (retry, dead-letter, give up).
        JobMetrics(),
        JobTracking(),
        # After JobTracking (its row says running, then failed), before the actor runs.
        MessageShape(),
        Retries(
            max_retries=settings.queue_retry_attempts,
            backoff_ms=settings.queue_backoff_delay_ms,
            max_backoff_ms=settings.queue_max_backoff_ms,
        ),
        OnceMoreOnDisconnect(),
        ExpectedFailureLogs(),
    ]
    if url and url.startswith(("amqp://", "amqps://")):
        from actors.rabbitmq import PrefixedRabbitmqBroker

        return PrefixedRabbitmqBroker(
            url=url, middleware=middleware, queue_prefix=f"{settings.redis_namespace}."
        )
    # Acks carry final states to the journal only when the broker's Redis is the journal's.
    journal_on_ack = settings.broker_url in (None, settings.redis_url)
    return JournalingRedisBroker(
        journal_key=Keys(settings.redis_namespace)(*JOURNAL) if journal_on_ack else None,
        client=_broker_redis(url),
        namespace=settings.redis_namespace,
        heartbeat_timeout=settings.worker_heartbeat_timeout_ms,
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=middleware,
    )


def _broker_redis(url: str | None) -> redis.Redis:
    if url is None:
        # Without REDIS_URL every enqueue fails like an outage would, and the webhook's
        # deferral keeps the job until a configured process relays it; /readyz says why.
        return unconfigured_redis()
    return redis.Redis.from_url(
        url,
        socket_timeout=BROKER_SOCKET_TIMEOUT_S,
        socket_connect_timeout=2.0,
        health_check_interval=30,
    )


def setup_broker(settings: Settings) -> dramatiq.Broker:
    """Build the broker and install it as Dramatiq's global broker (once per process)."""
    global _installed
    if _installed is None:
        _installed = build_broker(settings)
        dramatiq.set_broker(_installed)
    return _installed


def installed_broker() -> dramatiq.Broker:
    """Return the global broker, refusing Dramatiq's silent RabbitMQ fallback.

    Raises:
      RuntimeError: If `setup_broker()` has not run in this process.
    """
    if _installed is None:
        raise RuntimeError("actors.broker.setup_broker() must run before actors are declared")
    return _installed


def tracked_actor(kind: JobKind, **options: Any) -> ActorDecorator:
    """Return the decorator that declares `kind`'s actor, tracked, on the installed broker.

        @tracked_actor(WELCOME_BOOTSTRAP, time_limit=60_000)
        def welcome_bootstrap(**payload: Any) -> None: ...

    The actor's name and queue are `kind`'s (`store.job_kinds`), the ones its job rows
    are written with; `options` are Dramatiq's actor options.

    Raises:
      RuntimeError: If `setup_broker()` has not run in this process.
    """
    return dramatiq.actor(
        actor_name=kind.actor,
        queue_name=kind.queue,
        broker=installed_broker(),
        tracked=True,
        **options,
    )
