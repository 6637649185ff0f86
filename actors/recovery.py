"""Bringing back messages of workers that died without acknowledging them (Redis broker).

Dramatiq's Redis broker re-queues a dead worker's unacknowledged messages only during
"maintenance", which runs on a random 0.1 % of broker commands, so after a SIGKILL the
messages can wait many minutes. `sweep_dead_workers` runs that maintenance on purpose,
for every queue; the scheduler calls it every few seconds.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name

logger = logging.getLogger(__name__)


def sweep_dead_workers(broker: dramatiq.Broker, queue_names: set[str]) -> None:
    """Re-queue messages held by workers whose heartbeat is older than the timeout."""
    if not isinstance(broker, RedisBroker):
        return  # RabbitMQ redelivers a dead consumer's unacked messages by itself
    dispatch = broker.scripts["dispatch"]
    for queue_name in sorted(queue_names):
        for name in (queue_name, dq_name(queue_name)):
            dispatch(
                keys=[broker.namespace],
                args=[
                    "qsize",  # a read-only command; we only want the maintenance pass
                    current_millis(),
                    name,
                    broker.broker_id,
                    broker.heartbeat_timeout,
                    broker.dead_message_ttl,
                    1,  # do maintenance
                    broker._max_unpack_size(),
                ],
            )
