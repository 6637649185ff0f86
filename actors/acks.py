"""A Redis broker whose acknowledgements carry the job's final state to the journal.

JobTracking must have a message's final state somewhere durable before the message is
acknowledged (see `actors.job_states`). A separate `HSET` per message costs as much as
the rest of tracking; sent in the same round trip as the acknowledgement (or the move to
the dead letters), just before it, it costs little. Not in a MULTI: measured, the
transaction's extra replies cost a tenth of tracking's throughput, and the order alone
gives what matters — a message is never acknowledged before its final state is in the
journal (the server runs the two commands of one packet in order).
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from redis.exceptions import NoScriptError

from actors.job_states import JobChange


class JournalingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, plus `journal_on_ack()` for JobTracking.

    Parameters:
      journal_key(str | None): The journal hash (`actors.job_states.JOURNAL` under our
        namespace) when it is on this broker's Redis; None when it is elsewhere
        (`BROKER_URL` another Redis), and then acks carry nothing.
    """

    def __init__(self, *, journal_key: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.journal_key = journal_key
        self._journal: dict[str, JobChange] = {}
        self._journal_lock = threading.Lock()

    def journal_on_ack(self, redis_message_id: str, change: JobChange) -> bool:
        """Have `change` written to the journal with the ack (or nack) of the message,
        unless the database has it by then; False when this broker has no journal."""
        if self.journal_key is None:
            return False
        with self._journal_lock:
            self._journal[redis_message_id] = change
        return True

    def do_ack(self, queue_name: str, redis_message_id: str) -> Any:
        return self._settle("ack", queue_name, redis_message_id)

    def do_nack(self, queue_name: str, redis_message_id: str) -> Any:
        return self._settle("nack", queue_name, redis_message_id)

    def _settle(self, command: str, queue_name: str, redis_message_id: str) -> Any:
        with self._journal_lock:
            change = self._journal.get(redis_message_id)
        if change is None or self.journal_key is None:
            return self._dispatch(command)(queue_name, redis_message_id)
        # Under the change's guard, so the writer removes from the journal only entries
        # that are there, and never sees the entry appear after it stored the change.
        with change.guard:
            if change.stored:
                result = self._dispatch(command)(queue_name, redis_message_id)
            else:
                # EVALSHA by hand: a Script in a pipeline costs a SCRIPT EXISTS round trip
                # on every execute. The broker has loaded the script by its first fetch.
                pipe = self.client.pipeline(transaction=False)
                pipe.hset(self.journal_key, *change.journal_entry())
                pipe.evalsha(
                    self.scripts["dispatch"].sha,
                    1,
                    self.namespace,
                    command,
                    current_millis(),
                    queue_name,
                    self.broker_id,
                    self.heartbeat_timeout,
                    self.dead_message_ttl,
                    0,  # never maintenance on acks (Dramatiq's own rule)
                    self._max_unpack_size(),
                    redis_message_id,
                )
                try:
                    result = pipe.execute()[-1]
                except NoScriptError:  # a flushed script cache: the plain path reloads it
                    result = self._dispatch(command)(queue_name, redis_message_id)
                change.journaled = True
        with self._journal_lock:
            self._journal.pop(redis_message_id, None)
        return result
