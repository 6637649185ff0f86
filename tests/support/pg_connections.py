"""Closing an engine's PostgreSQL connections from the server side, as a failover, a restarted
PgBouncer or an operator's `pg_terminate_backend` does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from bot.runtime import Runtime
from store.db import make_engine
from store.settings import Settings
from tests.support.databases import delete_all_rows
from tests.support.waiting import wait_until


def pool_engine(database_url: str) -> Engine:
    """Return an engine of its own whose connections carry a name `terminate_backends` finds."""
    name = f"rbtest-pool-{uuid.uuid4().hex[:10]}"
    url = make_url(database_url).update_query_dict({"application_name": name})
    return make_engine(url.render_as_string(hide_password=False))


@contextmanager
def runtime_of_its_own(settings: Settings, engine: Engine) -> Iterator[Runtime]:
    """A runtime on the run's database with an engine (a pool) of its own, whose connections
    a test may kill without touching the run's shared engine; tables emptied afterwards."""
    runtime = Runtime(settings, engine=pool_engine(settings.database_url))
    try:
        yield runtime
    finally:
        runtime.close()
        delete_all_rows(engine)


def fill_pool(engine: Engine, connections: int) -> None:
    """Leave `connections` idle, used connections in the engine's pool."""
    with ExitStack() as stack:
        for _ in range(connections):
            stack.enter_context(engine.connect()).execute(text("SELECT 1"))


@contextmanager
def _admin(engine: Engine) -> Iterator[psycopg.Connection]:
    url = engine.url.set(drivername="postgresql").difference_update_query(["application_name"])
    plain = url.render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True, application_name="rbtest-admin") as admin:
        yield admin


def terminate_backends(engine: Engine) -> int:
    """Terminate every server process of the engine's pool; return how many there were.

    Returns once PostgreSQL no longer lists them (their sockets are closed).
    """
    name = engine.url.query["application_name"]
    with _admin(engine) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (name,),
        ).fetchone()
        assert wait_until(lambda: not _listed(admin, name), timeout=30), "backends still alive"
    return int(killed[0]) if killed else 0


def terminate_backend(engine: Engine, pid: int) -> None:
    """Terminate the server process `pid` (a connection of `engine`) and wait until it is gone."""
    with _admin(engine) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %s"
        assert wait_until(lambda: _first(admin.execute(gone, (pid,)).fetchone()), timeout=30)


def _first(row: tuple[object, ...] | None) -> object:
    return row[0] if row else None


def _listed(admin: psycopg.Connection, name: str) -> bool:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
    ).fetchone()
    return bool(row and row[0])


@contextmanager
def every_new_connection_terminated(engine: Engine) -> Iterator[None]:
    """Terminate each connection the engine opens, as soon as it is open (a database that
    keeps dropping connections: a second attempt fails like the first)."""

    def terminate(dbapi_connection: psycopg.Connection, _record: object) -> None:
        terminate_backend(engine, dbapi_connection.info.backend_pid)

    event.listen(engine, "connect", terminate)
    try:
        yield
    finally:
        event.remove(engine, "connect", terminate)
