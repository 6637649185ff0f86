"""A Redis broker whose acknowledgements carry the job's final state to the journal.

JobTracking must have a message's final state somewhere durable before the message is
acknowledged (see `actors.job_states`). A separate `HSET` per message costs as much as
the rest of tracking; sent in the same `MULTI` as the acknowledgement (or the move to
the dead letters), it costs almost nothing, and a message is acknowledged exactly when
its final state is journaled.
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

from actors.job_states import JobChange


class JournalingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, plus `journal_on_ack()` for JobTracking."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._journal: dict[str, tuple[str, JobChange]] = {}
        self._journal_lock = threading.Lock()

    def journal_on_ack(self, redis_message_id: str, key: str, change: JobChange) -> None:
        """Write `change` to the journal hash `key` with the ack (or nack) of the message,
        unless the database has it by then."""
        with self._journal_lock:
            self._journal[redis_message_id] = (key, change)

    def do_ack(self, queue_name: str, redis_message_id: str) -> Any:
        return self._settle("ack", queue_name, redis_message_id)

    def do_nack(self, queue_name: str, redis_message_id: str) -> Any:
        return self._settle("nack", queue_name, redis_message_id)

    def _settle(self, command: str, queue_name: str, redis_message_id: str) -> Any:
        with self._journal_lock:
            journal = self._journal.get(redis_message_id)
        if journal is None:
            return self._dispatch(command)(queue_name, redis_message_id)
        key, change = journal
        # Under the change's guard, so the writer removes from the journal only entries
        # that are there, and never sees the entry appear after it stored the change.
        with change.guard:
            if change.stored:
                result = self._dispatch(command)(queue_name, redis_message_id)
            else:
                pipe = self.client.pipeline(transaction=True)
                pipe.hset(key, str(change.journal_key), change.to_json())
                self.scripts["dispatch"](
                    keys=[self.namespace],
                    args=[
                        command,
                        current_millis(),
                        queue_name,
                        self.broker_id,
                        self.heartbeat_timeout,
                        self.dead_message_ttl,
                        0,  # never maintenance on acks (Dramatiq's own rule)
                        self._max_unpack_size(),
                        redis_message_id,
                    ],
                    client=pipe,
                )
                result = pipe.execute()[-1]
                change.journaled = True
        with self._journal_lock:
            self._journal.pop(redis_message_id, None)
        return result
