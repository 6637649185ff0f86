"""Starting an import: one at a time per restaurant (SPEC §13's `409 import_running`)."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import dramatiq
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bot.jobs import add_job, enqueue, mark_enqueued
from imports.locks import lock_restaurant
from imports.requests import ImportRequest
from store.job_kinds import IMPORT_ORDERS
from store.models import Job

# An import in one of these states is still going (`partial`: waiting for its retry).
UNFINISHED = ("queued", "running", "partial")


class ImportRunning(Exception):
    """The restaurant already has an import queued or running: `job_id`."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"an order import is already queued or running: job {job_id}")
        self.job_id = job_id


class UnknownRestaurant(LookupError):
    """There is no restaurant with that id."""


def running_import(session: Session, restaurant_id: str) -> str | None:
    """Return the id of the restaurant's unfinished import job, or None."""
    return session.scalar(
        select(Job.id)
        .where(
            Job.restaurant_id == restaurant_id,
            Job.actor == IMPORT_ORDERS.actor,
            Job.status.in_(UNFINISHED),
        )
        .order_by(Job.created_at.desc())
        .limit(1)
    )


def start_import(session: Session, restaurant_id: str, days: int, *, now: dt.datetime) -> Job:
    """Add the job of an import of the `days` days ending `now`; enqueue it after commit.

    The restaurant's row is locked meanwhile (SQLite: the write transaction), so two
    requests at once start one import.

    Raises:
      UnknownRestaurant: No such restaurant.
      ImportRunning: One is already queued or running; nothing is added.
    """
    if not lock_restaurant(session, restaurant_id):
        raise UnknownRestaurant(restaurant_id)
    running = running_import(session, restaurant_id)
    if running is not None:
        raise ImportRunning(running)
    request = ImportRequest.at(restaurant_id, days, now)
    return add_job(session, IMPORT_ORDERS, request.payload(), restaurant_id=restaurant_id)


@dataclass(frozen=True)
class Launched:
    """A started import: its job, and whether the broker has it already (else the relay
    hands it over within seconds)."""

    job_id: str
    enqueued: bool


class Services(Protocol):
    """What starting an import needs of a process (the `Runtime`)."""

    @property
    def broker(self) -> dramatiq.Broker: ...

    def transaction(self) -> AbstractContextManager[Session]: ...

    def autocommit(self) -> AbstractContextManager[Connection]: ...


def launch_import(
    services: Services, restaurant_id: str, days: int, *, now: dt.datetime
) -> Launched:
    """Start an import (its job row committed), then hand it to the broker.

    With the broker unreachable the job stays `queued` and the relay hands it over later.
    The API, the owner's Jobs page and the CLI all start imports through this.

    Raises:
      UnknownRestaurant, ImportRunning: As `start_import`.
    """
    with services.transaction() as session:
        job = start_import(session, restaurant_id, days, now=now)
    enqueued = enqueue(services.broker, [job])
    if enqueued:
        with services.autocommit() as connection:
            mark_enqueued(connection, enqueued)
    return Launched(job.id, bool(enqueued))
