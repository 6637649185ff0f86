"""The process's long-lived resources, built once from the settings and shared by requests
and actor messages: database engine and sessions, Redis, the broker to enqueue on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import dramatiq
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.allowances import MinuteAllowance
from bot.flow import CatalogView
from bot.inbound import Inbox
from bot.messenger import Messenger, make_messenger
from bot.reception import Reception
from bot.tenants import TenantDirectory
from store.db import make_engine, make_read_engine, make_session_factory
from store.redis import Keys, make_redis
from store.settings import Settings

# Actors can wait longer for Twilio than a webhook request can.
WORKER_SEND_TIMEOUT_S = 10.0


class Runtime:
    """Everything a request or an actor needs besides its input.

    Parameters:
      settings(Settings): The configuration.
      engine(Engine): An engine to use instead of one built from `DATABASE_URL` (tests).
      session_factory(sessionmaker): A session factory to use instead of the engine's (tests);
        it then serves read-only work too.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        session_factory: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.sessions = session_factory or make_session_factory(self.engine)
        self.read_engine = make_read_engine(self.engine)
        self.read_sessions = session_factory or make_session_factory(self.read_engine)
        self.keys = Keys(settings.redis_namespace)

    @cached_property
    def redis(self) -> redis.Redis:
        """Return the Redis client for cache, limits and locks (fails fast when Redis is down)."""
        if self.settings.redis_url is None:
            # Behaves like an outage: callers already handle Redis being unreachable.
            return redis.Redis(unix_socket_path="/nonexistent/REDIS_URL-is-not-set")
        return make_redis(self.settings.redis_url)

    @cached_property
    def broker(self) -> dramatiq.Broker:
        """Return a broker to enqueue on (the worker process consumes from the same queues)."""
        from actors.broker import build_broker

        return build_broker(self.settings)

    @cached_property
    def tenants(self) -> TenantDirectory:
        """Return the tenant lookup (restaurants by WhatsApp number, cached briefly)."""
        return TenantDirectory(self.read_sessions, self.settings)

    @cached_property
    def messenger(self) -> Messenger:
        """Return the messenger for request paths (`TWILIO_SEND_TIMEOUT_MS`, 2 s)."""
        return make_messenger(self.settings, self.settings.twilio_send_timeout_s)

    @cached_property
    def worker_messenger(self) -> Messenger:
        """Return the messenger for actors: a longer timeout, fewer ambiguous timeouts."""
        return make_messenger(self.settings, WORKER_SEND_TIMEOUT_S)

    @cached_property
    def catalog_peek(self) -> CatalogView:
        """Return catalog data available without waiting (the cache)."""
        from bot.flow import NothingCached

        return NothingCached()

    @cached_property
    def catalog_loader(self) -> CatalogView:
        """Return catalog data that may be fetched upstream (workers only, never requests)."""
        from bot.flow import NothingCached

        return NothingCached()

    @cached_property
    def reception(self) -> Reception:
        """Return the inbound-message handler of this process."""
        inbox = Inbox(MinuteAllowance(self.redis, self.keys), self.catalog_peek)
        return Reception(
            self.settings,
            self.sessions,
            self.redis,
            self.keys,
            inbox,
            self.messenger,
            self.broker,
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session in a transaction: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """Open a session for reading only (on SQLite it does not wait for writers)."""
        with self.read_sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release connections (used by tests and at process exit)."""
        if "redis" in self.__dict__:
            self.redis.close()
        if "broker" in self.__dict__:
            self.broker.close()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        self.engine.dispose()
