"""`once_more_on_disconnect`: a unit of work runs once more only when its first connection,
still held, turned out closed by the database."""

import logging

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from store.db import make_read_engine
from store.disconnects import mark_written, once_more_on_disconnect
from store.models import Restaurant
from tests.support import factories
from tests.support.databases import backend_name, delete_all_rows
from tests.support.pg_connections import (
    every_new_connection_terminated,
    fill_pool,
    pool_engine,
    terminate_backend,
    terminate_backends,
)

on_postgresql = pytest.mark.skipif(
    backend_name() != "postgresql",
    reason="needs a database server that closes connections (pg_terminate_backend); "
    "SQLite has none",
)


def closed_connection() -> DBAPIError:
    """What SQLAlchemy raises when a statement finds its connection closed by the server."""
    return OperationalError(
        "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
    )


class Work:
    """A unit of work that fails with the given errors first, then answers 42."""

    def __init__(self, *errors: Exception, engine=None) -> None:
        self.errors = list(errors)
        self.engine = engine
        self.runs = 0

    def __call__(self) -> int:
        self.runs += 1
        if self.engine is not None:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        if self.errors:
            raise self.errors.pop(0)
        return 42


def test_a_unit_whose_first_connection_was_closed_by_the_server_runs_once_more(caplog):
    work = Work(closed_connection())
    with caplog.at_level(logging.WARNING):
        assert once_more_on_disconnect(work, what="job test") == 42
    assert work.runs == 2
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("job test: the database had closed its connection")
    assert record.exc_info is None


def test_a_second_closed_connection_in_a_row_is_raised():
    work = Work(closed_connection(), closed_connection())
    with pytest.raises(OperationalError):
        once_more_on_disconnect(work, what="job test")
    assert work.runs == 2


def test_other_database_errors_are_raised_at_once():
    other = OperationalError("SELECT 1", {}, Exception("deadlock detected"))
    work = Work(other)
    with pytest.raises(OperationalError):
        once_more_on_disconnect(work, what="job test")
    assert work.runs == 1


def test_a_unit_whose_connection_went_back_to_the_pool_is_never_run_again(engine):
    work = Work(closed_connection(), engine=engine)  # a transaction ended, then it fails
    with pytest.raises(OperationalError):
        once_more_on_disconnect(work, what="job test")
    assert work.runs == 1


def test_a_unit_holding_a_second_connection_is_never_run_again(engine):
    reader = make_read_engine(engine)  # SQLite's writer pool has one connection
    runs = []

    def work() -> None:
        runs.append(1)
        with engine.connect() as first, reader.connect() as second:
            first.execute(text("SELECT 1"))
            second.execute(text("SELECT 1"))
            raise closed_connection()

    try:
        with pytest.raises(OperationalError):
            once_more_on_disconnect(work, what="job test")
        assert len(runs) == 1
    finally:
        if reader is not engine:
            reader.dispose()


def test_a_unit_that_wrote_for_good_is_never_run_again():
    def work() -> None:
        mark_written()  # e.g. an autocommit statement
        raise closed_connection()

    with pytest.raises(OperationalError):
        once_more_on_disconnect(work, what="job test")


def test_a_unit_inside_another_is_part_of_it_and_the_outer_one_decides():
    inner = Work(closed_connection())
    outer_runs = []

    def outer() -> int:
        outer_runs.append(1)
        return once_more_on_disconnect(inner, what="inner")

    assert once_more_on_disconnect(outer, what="outer") == 42
    assert (len(outer_runs), inner.runs) == (2, 2)


@on_postgresql
def test_pg_terminate_backend_before_the_first_statement_costs_one_more_run(database_url, caplog):
    engine = pool_engine(database_url)
    try:
        fill_pool(engine, 2)
        assert terminate_backends(engine) == 2
        runs = []

        def work() -> int:
            runs.append(1)
            with engine.begin() as connection:
                return connection.execute(text("SELECT 7")).scalar_one()

        with caplog.at_level(logging.WARNING):
            assert once_more_on_disconnect(work, what="unit") == 7
        assert len(runs) == 2
        assert "AdminShutdown" in caplog.text or "closed" in caplog.text
    finally:
        engine.dispose()


@on_postgresql
def test_a_transaction_the_server_cut_on_the_first_connection_runs_once_more_and_writes_once(
    database_url, engine, settings
):
    own = pool_engine(database_url)
    runs = []

    def work() -> None:
        runs.append(1)
        with Session(own) as session, session.begin():
            factories.restaurant(session, settings, restaurant_id="r-cut")
            if len(runs) == 1:  # the server ends the connection after the INSERT
                terminate_backend(own, session.execute(text("SELECT pg_backend_pid()")).scalar())
            session.execute(text("SELECT 1"))

    try:
        once_more_on_disconnect(work, what="unit")
        assert len(runs) == 2
        with Session(engine) as session:
            ids = session.scalars(select(Restaurant.id).where(Restaurant.id == "r-cut")).all()
        assert ids == ["r-cut"]
    finally:
        own.dispose()
        delete_all_rows(engine)


@on_postgresql
def test_a_closed_connection_after_one_went_back_to_the_pool_is_raised(database_url):
    own = pool_engine(database_url)
    runs = []

    def work() -> None:
        runs.append(1)
        with own.connect() as connection:
            connection.execute(text("SELECT 1"))
        terminate_backends(own)
        with own.connect() as connection:  # the same pooled connection, closed meanwhile
            connection.execute(text("SELECT 1"))

    try:
        with pytest.raises(DBAPIError) as raised:
            once_more_on_disconnect(work, what="unit")
        assert raised.value.connection_invalidated
        assert len(runs) == 1
    finally:
        own.dispose()


@on_postgresql
def test_a_database_that_keeps_closing_connections_fails_the_second_run(database_url):
    engine = pool_engine(database_url)
    try:
        fill_pool(engine, 1)
        terminate_backends(engine)
        runs = []

        def work() -> None:
            runs.append(1)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        with every_new_connection_terminated(engine), pytest.raises(DBAPIError):
            once_more_on_disconnect(work, what="unit")
        assert len(runs) == 2
    finally:
        engine.dispose()
