"""Dead letters of the Redis broker: list, replay and delete (Dramatiq has no API for it).

Dramatiq keeps a queue's dead letters in `<namespace>:<queue>.XQ`, a sorted set of Redis
message ids scored by when they died (ms), and `<namespace>:<queue>.XQ.msgs`, a hash of
those ids to encoded messages. A letter is addressed by its Dramatiq message id (the Job
id). Replaying and deleting run one Lua script each, which first removes the letter from
the sorted set and does nothing else if it was not there: two operators racing replay it
once, and a replayed letter is never still listed.

RabbitMQ keeps dead letters in `<queue>.XQ` queues, which cannot be browsed without
consuming them; there `DeadLetters` raises `DeadLettersUnsupported` (see the README).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name
from sqlalchemy import select

from bot.runtime import Runtime
from store.jobs import requeue_job
from store.models import Job
from store.timeutil import iso_z

logger = logging.getLogger(__name__)

# Options that belonged to the failed run, not to the job: a replay starts afresh.
_RUN_OPTIONS = ("retries", "traceback", "redis_message_id", "given_up", "eta", "requeue_timestamp")

# KEYS: xq, xq.msgs, queue, queue.msgs; ARGV: old redis id, new redis id, new message.
_REPLAY = """
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("hset", KEYS[4], ARGV[2], ARGV[3])
redis.call("rpush", KEYS[3], ARGV[2])
return 1
"""
# KEYS: xq, xq.msgs; ARGV: redis id.
_DELETE = """
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("hdel", KEYS[2], ARGV[1])
return 1
"""


class DeadLettersUnsupported(Exception):
    """The broker keeps dead letters where they cannot be listed or replayed (RabbitMQ)."""


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message."""

    id: str
    queue: str
    actor: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    dead_lettered_at: dt.datetime
    redis_id: str

    @property
    def restaurant_id(self) -> str | None:
        """Return the restaurant the job was for, when its arguments name one."""
        value = self.kwargs.get("restaurant_id")
        return str(value) if value is not None else None

    @property
    def attempts(self) -> int:
        """Return the attempts recorded in the message (its last retry count + 1)."""
        return int(self.options.get("retries", 0)) + 1

    @property
    def last_error(self) -> str | None:
        """Return the last line of the traceback stored in the message, if any."""
        lines = str(self.options.get("traceback") or "").strip().splitlines()
        return lines[-1] if lines else None


class DeadLetters:
    """The dead letters of every queue of a Redis broker's namespace.

    Raises:
      DeadLettersUnsupported: If `broker` is not a Redis broker.
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        if not isinstance(broker, RedisBroker):
            raise DeadLettersUnsupported(
                "dead letters can be listed and replayed on the Redis broker only"
            )
        self.client = broker.client
        self.namespace = broker.namespace
        self._replay = self.client.register_script(_REPLAY)
        self._delete = self.client.register_script(_DELETE)

    def queues(self) -> list[str]:
        """Return the names of the queues that have dead letters."""
        prefix, suffix = f"{self.namespace}:", ".XQ"
        names = {
            _text(key)[len(prefix) : -len(suffix)]
            for key in self.client.scan_iter(match=f"{prefix}*{suffix}", count=1000)
        }
        return sorted(names)

    def counts(self) -> dict[str, int]:
        """Return the number of dead letters per queue."""
        return {queue: int(self.client.zcard(self._xq(queue))) for queue in self.queues()}

    def page(self, *, offset: int, limit: int) -> tuple[int, list[DeadLetter]]:
        """Return the total and one page of letters, most recently dead first."""
        entries: list[tuple[float, str, str]] = []
        for queue in self.queues():
            scored: Any = self.client.zrange(self._xq(queue), 0, -1, withscores=True)
            for redis_id, score in scored:
                entries.append((float(score), queue, _text(redis_id)))
        entries.sort(key=lambda entry: (-entry[0], entry[2]))
        letters = []
        for score, queue, redis_id in entries[offset : offset + limit]:
            letter = self._load(queue, redis_id, score)
            if letter is not None:
                letters.append(letter)
        return len(entries), letters

    def find(self, message_id: str) -> DeadLetter | None:
        """Return the letter of Dramatiq message `message_id`, or None."""
        needle = message_id.encode()
        for queue in self.queues():
            for redis_id, data in self.client.hscan_iter(self._xq(queue) + ".msgs", count=500):
                if needle in data and dramatiq.Message.decode(data).message_id == message_id:
                    score = self.client.zscore(self._xq(queue), redis_id)
                    if score is not None:
                        return self._letter(queue, _text(redis_id), data, score)
        return None

    def replay(self, letter: DeadLetter) -> bool:
        """Put `letter` back on its queue as a fresh message; False if it is gone already."""
        options = {k: v for k, v in letter.options.items() if k not in _RUN_OPTIONS}
        new_id = str(uuid.uuid4())
        options["redis_message_id"] = new_id
        options["replayed"] = True  # an actor may prepare for it (see deliver_message)
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=letter.queue,
            actor_name=letter.actor,
            args=tuple(letter.args),
            kwargs=letter.kwargs,
            options=options,
            message_id=letter.id,
        )
        xq = self._xq(letter.queue)
        queue = f"{self.namespace}:{letter.queue}"
        keys = [xq, xq + ".msgs", queue, queue + ".msgs"]
        return bool(self._replay(keys=keys, args=[letter.redis_id, new_id, message.encode()]))

    def delete(self, letter: DeadLetter) -> bool:
        """Drop `letter` for good; False if it is gone already."""
        xq = self._xq(letter.queue)
        return bool(self._delete(keys=[xq, xq + ".msgs"], args=[letter.redis_id]))

    def _xq(self, queue: str) -> str:
        return f"{self.namespace}:{queue}.XQ"

    def _load(self, queue: str, redis_id: str, score: float) -> DeadLetter | None:
        data = self.client.hget(self._xq(queue) + ".msgs", redis_id)
        return None if data is None else self._letter(queue, redis_id, data, score)

    def _letter(self, queue: str, redis_id: str, data: Any, score: float) -> DeadLetter:
        message = dramatiq.Message.decode(data)
        return DeadLetter(
            id=message.message_id,
            queue=q_name(queue),
            actor=message.actor_name,
            # A malformed message (see MessageShape) is listed too, with what it carried.
            args=_as_list(message.args),
            kwargs=_as_mapping(message.kwargs),
            options=dict(message.options),
            dead_lettered_at=dt.datetime.fromtimestamp(score / 1000, dt.UTC),
            redis_id=redis_id,
        )


def _as_list(args: Any) -> list[Any]:
    if isinstance(args, list | tuple):
        return list(args)
    return [] if args is None else [args]


def _as_mapping(kwargs: Any) -> dict[str, Any]:
    if isinstance(kwargs, Mapping):
        return dict(kwargs)
    return {} if kwargs is None else {"__not_a_mapping__": kwargs}


def letter_json(letter: DeadLetter, job: Job | None) -> dict[str, Any]:
    """Return the API's dead-letter object; attempts and last error from the job row when
    there is one (the message itself only has them as of its last retry)."""
    return {
        "id": letter.id,
        "queue": letter.queue,
        "actor": letter.actor,
        "args": {"args": letter.args, "kwargs": letter.kwargs},
        "restaurantId": letter.restaurant_id or (job.restaurant_id if job else None),
        "attempts": job.attempts if job is not None and job.attempts else letter.attempts,
        "lastError": (job.error if job is not None and job.error else None) or letter.last_error,
        "deadLetteredAt": iso_z(letter.dead_lettered_at),
    }


def list_letters(runtime: Runtime, *, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Return the number of dead letters and one page of them as API objects."""
    total, letters = DeadLetters(runtime.broker).page(offset=offset, limit=limit)
    with runtime.read_transaction() as session:
        jobs = {
            job.id: job
            for job in session.scalars(
                select(Job).where(Job.id.in_([letter.id for letter in letters]))
            )
        }
    return total, [letter_json(letter, jobs.get(letter.id)) for letter in letters]


def retry_letter(runtime: Runtime, message_id: str) -> bool:
    """Replay dead letter `message_id` and mark its job queued; False if there is none."""
    letters = DeadLetters(runtime.broker)
    letter = letters.find(message_id)
    if letter is None or not letters.replay(letter):
        return False
    with runtime.transaction() as session:
        requeue_job(session, message_id)
    logger.info("dead letter %s (%s) replayed on %s", message_id, letter.actor, letter.queue)
    return True


def delete_letter(runtime: Runtime, message_id: str) -> bool:
    """Delete dead letter `message_id`; False if there is none."""
    letters = DeadLetters(runtime.broker)
    letter = letters.find(message_id)
    if letter is None or not letters.delete(letter):
        return False
    logger.info("dead letter %s (%s) deleted from %s", message_id, letter.actor, letter.queue)
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
