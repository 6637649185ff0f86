"""Engine and session handling: one engine per process, one session per request or message."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Execution option marking read-only work (SQLite then begins without the write lock).
READ_ONLY = "restaurant_bot_read_only"

# How long a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalize_database_url(url: str) -> str:
    """Return `url` with a bare PostgreSQL scheme pointed at the psycopg 3 driver we ship."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(database_url: str, **options: Any) -> Engine:
    """Create the process's engine; SQLite gets WAL and a busy timeout for several writers."""
    url = make_url(normalize_database_url(database_url))
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    return create_engine(url, **options)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own is broken
    # for SAVEPOINT and for BEGIN IMMEDIATE), see SQLAlchemy's SQLite dialect docs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Writers take the write lock at BEGIN, so two writers queue on the busy timeout
    # instead of one failing with "database is locked" when it upgrades a read to a
    # write. Read-only work (marked READ_ONLY) begins deferred and never waits: in WAL
    # mode readers see a snapshot while a writer works.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Return a session factory on `engine` (objects stay readable after commit).

    Sessions of a `read_only` factory must not write; on SQLite they run beside writers.
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit when the block succeeds, roll back when it raises."""
    with factory() as session, session.begin():
        yield session


def is_postgresql(session_or_engine: Session | Engine) -> bool:
    """Return True when the database behind the session or engine is PostgreSQL."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else None
    engine = bind or session_or_engine
    return engine.dialect.name == "postgresql"  # type: ignore[union-attr]
