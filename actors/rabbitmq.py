"""Dramatiq's RabbitMQ broker with every queue name under a prefix of ours.

RabbitMQ has no key namespaces like our Redis keys; deployments (and test runs) sharing
one server and vhost keep apart by queue name: `<REDIS_NAMESPACE>.<queue>` (and its `.DQ`,
`.XQ`). Messages keep their plain queue names, so actors and workers see no difference:
only the names sent to the server are prefixed, by a thin wrapper around each channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dramatiq.broker import Consumer
from dramatiq.brokers.rabbitmq import RabbitmqBroker


class _PrefixedChannel:
    """A pika channel whose queue names (declare, publish, purge, delete) get a prefix."""

    def __init__(self, channel: Any, prefix: str) -> None:
        self._channel = channel
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)

    def queue_declare(self, queue: str, **options: Any) -> Any:
        arguments = dict(options.pop("arguments", None) or {})
        if "x-dead-letter-routing-key" in arguments:
            arguments["x-dead-letter-routing-key"] = (
                self._prefix + arguments["x-dead-letter-routing-key"]
            )
        return self._channel.queue_declare(
            queue=self._prefix + queue, arguments=arguments, **options
        )

    def basic_publish(self, exchange: str, routing_key: str, *args: Any, **options: Any) -> Any:
        return self._channel.basic_publish(exchange, self._prefix + routing_key, *args, **options)

    def queue_purge(self, queue: str, *args: Any, **options: Any) -> Any:
        return self._channel.queue_purge(self._prefix + queue, *args, **options)

    def queue_delete(self, queue: str, *args: Any, **options: Any) -> Any:
        return self._channel.queue_delete(self._prefix + queue, *args, **options)


class PrefixedRabbitmqBroker(RabbitmqBroker):
    """A RabbitMQ broker whose queues on the server are named `<prefix><queue>`.

    Parameters:
      queue_prefix(str): Put before every queue name on the server (e.g. "restaurant-bot.").
    """

    def __init__(self, *, queue_prefix: str, **options: Any) -> None:
        self.queue_prefix = queue_prefix
        super().__init__(**options)

    @property
    def channel(self) -> Any:
        raw = RabbitmqBroker.channel.fget(self)  # type: ignore[attr-defined]
        return _PrefixedChannel(raw, self.queue_prefix)

    @channel.deleter
    def channel(self) -> None:
        RabbitmqBroker.channel.fdel(self)  # type: ignore[attr-defined]

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        self.declare_queue(queue_name, ensure=True)
        return self.consumer_class(self, self.queue_prefix + queue_name, prefetch, timeout)

    def delete_queues(self, also: Iterable[str] = ()) -> None:
        """Delete this broker's declared queues, and `also` these, from the server (test
        runs clean up after themselves; only names under our prefix are touched)."""
        from dramatiq.common import dq_name, xq_name

        for queue_name in sorted(self.get_declared_queues() | set(also)):
            for name in (queue_name, dq_name(queue_name), xq_name(queue_name)):
                self.channel.queue_delete(name)
