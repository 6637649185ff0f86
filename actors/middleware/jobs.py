"""Job tracking: keeps a `Job` row per message of a tracked actor (`tracked=True`).

queued → running → succeeded | partial | failed | dead, with attempts, timestamps, the
last error and a result summary; `actors.progress` adds done/total/step. Runs after
`Retries` in the middleware list, so it sees whether a failed message will be retried.
A final state that cannot be written (database briefly down) is retried, then parked in
Redis and applied by the relay, so it is not lost.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import dramatiq
import redis
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from actors import progress
from actors.context import current_runtime
from actors.errors import Postpone
from bot.logs import start_log_context
from store.models import Job
from store.timeutil import iso_z, parse_iso_z, utcnow

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
PARKED_UPDATES = ("jobs", "parked-updates")


class JobTracking(dramatiq.Middleware):
    """Records the life of every message of an actor declared with `tracked=True`."""

    @property
    def actor_options(self) -> set[str]:
        return {"tracked"}

    def _tracked(self, broker: dramatiq.Broker, message: Any) -> bool:
        try:
            return bool(broker.get_actor(message.actor_name).options.get("tracked"))
        except dramatiq.errors.ActorNotFound:
            return False

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        kwargs = message.kwargs or {}
        start_log_context(job_id=message.message_id, restaurant_id=kwargs.get("restaurant_id"))
        if not self._tracked(broker, message):
            return
        progress.begin(message.message_id)
        now = utcnow()
        runtime = current_runtime()
        with runtime.transaction() as session:
            started = session.execute(
                update(Job)
                .where(Job.id == message.message_id)
                .values(status="running", started_at=now, finished_at=None, updated_at=now)
            )
            if not started.rowcount:  # type: ignore[attr-defined]
                session.add(
                    Job(
                        id=message.message_id,
                        actor=message.actor_name,
                        queue=message.queue_name.removesuffix(".DQ"),
                        restaurant_id=_restaurant_of(kwargs),
                        status="running",
                        payload={"kwargs": kwargs},
                        created_at=now,
                        enqueued_at=now,
                        started_at=now,
                        updated_at=now,
                    )
                )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if not self._tracked(broker, message):
            return
        report = progress.end(message.message_id)
        now = utcnow()
        values: dict[str, Any] = {"updated_at": now}
        if isinstance(exception, Postpone):
            values.update(status="queued", started_at=None)
        else:
            values["attempts"] = Job.attempts + 1
            if report.result is not None:
                values["result"] = report.result
            if exception is None:
                values.update(status="succeeded", finished_at=now, error=None)
            else:
                values["error"] = f"{type(exception).__name__}: {exception}"[:2000]
                given_up = message.options.get("given_up")
                if given_up == "exhausted":
                    values.update(status="dead", finished_at=now)
                elif given_up or message.failed:
                    values.update(status="failed", finished_at=now)
                else:
                    values["status"] = "partial" if report.partial else "queued"
        write_job_update(message.message_id, values)


def _restaurant_of(kwargs: dict[str, Any]) -> str | None:
    value = kwargs.get("restaurant_id")
    return str(value) if value is not None else None


def write_job_update(job_id: str, values: dict[str, Any]) -> None:
    """Write a job's new state, retrying briefly; park it in Redis if the database is down."""
    runtime = current_runtime()
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with runtime.transaction() as session:
                session.execute(update(Job).where(Job.id == job_id).values(**values))
            return
        except SQLAlchemyError as error:
            logger.warning("job %s: state not written (%s), attempt %d", job_id, error, attempt + 1)
            time.sleep(0.2 * 2**attempt)
    plain = {k: v for k, v in values.items() if k != "attempts"}
    plain["attempts_delta"] = 1 if "attempts" in values else 0
    try:
        runtime.redis.rpush(
            runtime.keys(*PARKED_UPDATES),
            json.dumps({"id": job_id, "values": plain}, default=iso_z),
        )
        logger.error("job %s: database unavailable, final state parked in Redis", job_id)
    except redis.RedisError:
        logger.error("job %s: final state lost (database and Redis unavailable): %s", job_id, plain)


def apply_parked_updates(limit: int = 1000) -> int:
    """Apply job states parked while the database was down; return how many were applied."""
    runtime = current_runtime()
    key = runtime.keys(*PARKED_UPDATES)
    applied = 0
    while applied < limit:
        raw = runtime.redis.lpop(key)
        if raw is None or isinstance(raw, list):
            break
        entry = json.loads(raw)
        values = dict(entry["values"])
        delta = values.pop("attempts_delta", 0)
        for column in ("updated_at", "finished_at", "started_at"):
            if isinstance(values.get(column), str):
                values[column] = parse_iso_z(values[column])
        if delta:
            values["attempts"] = Job.attempts + delta
        try:
            with runtime.transaction() as session:
                session.execute(update(Job).where(Job.id == entry["id"]).values(**values))
        except SQLAlchemyError:
            runtime.redis.lpush(key, raw)  # still down: keep it for the next pass
            break
        applied += 1
    return applied
