"""Engine and session handling: one engine per process, one session per request or message.

SQLite allows one writer at a time. Left to itself, a writer that finds the database
locked polls with growing sleeps (SQLite's busy handler: 1, 2, 5 … 100 ms), which under
load turns milliseconds of work into seconds of waiting. So the writer engine of a SQLite
database has ONE connection per process, and checking it out takes an exclusive `flock`
on a lock file beside the database: writers of every process queue in the kernel and
are woken in turn, and the lock is released when the connection goes back to the pool,
after COMMIT. Readers use a separate engine and never wait (WAL mode: they read a
snapshot while a writer works). PostgreSQL needs none of this.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store import disconnects

# Execution option marking read-only work (SQLite then begins without the write lock).
READ_ONLY = "restaurant_bot_read_only"

# How long a SQLite connection waits for a writer outside our flock (e.g. the sqlite3 CLI).
SQLITE_BUSY_TIMEOUT_MS = 15_000
# How long a SQLite writer waits for its turn before giving up with an error.
SQLITE_WRITER_TIMEOUT_S = 30


def normalize_database_url(url: str) -> str:
    """Return `url` with a bare PostgreSQL scheme pointed at the psycopg 3 driver we ship."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(database_url: str, *, read_only: bool = False, **options: Any) -> Engine:
    """Create an engine; for SQLite a queued single writer per process, or a reader pool."""
    url = make_url(normalize_database_url(database_url))
    if url.get_backend_name() != "sqlite":
        # No pre-ping: it costs a round trip per checkout on the webhook's path. A request
        # or job whose first statement meets a connection the server closed runs once
        # more on a fresh one (store.disconnects); connections are recycled hourly anyway.
        options.setdefault("pool_recycle", 3600)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        engine = create_engine(url, **options)
        disconnects.watch(engine)
        return engine
    database = url.database
    on_disk = bool(database) and database != ":memory:"
    if on_disk:
        os.makedirs(os.path.dirname(os.path.abspath(str(database))), exist_ok=True)
    options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    if on_disk and not read_only:
        options.setdefault("pool_size", 1)
        options.setdefault("max_overflow", 0)
        options.setdefault("pool_timeout", SQLITE_WRITER_TIMEOUT_S)
    engine = create_engine(url, **options)
    disconnects.watch(engine)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    if on_disk and not read_only:
        _WriterLock(f"{os.path.abspath(str(database))}.writer-lock").install(engine)
    if read_only:
        engine = engine.execution_options(**{READ_ONLY: True})
    return engine


def make_read_engine(engine: Engine) -> Engine:
    """Return an engine for read-only work beside `engine` (a reader pool for SQLite)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    return make_engine(engine.url.render_as_string(hide_password=False), read_only=True)


class _WriterLock:
    """An exclusive flock held while a process's SQLite writer connection is checked out."""

    def __init__(self, path: str) -> None:
        self.path = path

    def install(self, engine: Engine) -> None:
        event.listen(engine.pool, "checkout", self._take)
        event.listen(engine.pool, "checkin", self._give_back)

    def _take(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        descriptor = record.info.get("writer_lock")
        if descriptor is None:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            record.info["writer_lock"] = descriptor
        fcntl.flock(descriptor, fcntl.LOCK_EX)

    def _give_back(self, _dbapi: Any, record: Any) -> None:
        descriptor = record.info.get("writer_lock") if record is not None else None
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


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
    # Writers take the write lock at BEGIN: a read that later writes cannot then fail with
    # "database is locked" on upgrading. Read-only work begins deferred.
    options = connection.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # each statement commits by itself
    if options.get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory on `engine` (objects stay readable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgresql(session_or_engine: Session | Engine) -> bool:
    """Return True when the database behind the session or engine is PostgreSQL."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else None
    engine = bind or session_or_engine
    return engine.dialect.name == "postgresql"  # type: ignore[union-attr]
