"""The process's long-lived resources, built once from the settings and shared by requests
and actor messages: database engine and sessions, Redis, the broker to enqueue on.

The runtime is where the process's parts are put together, so it imports from every
package below the entry points, and the broker's construction from `actors.broker`
(nothing there imports the runtime back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

import dramatiq
import redis
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from actors.broker import build_broker
from alerts.crossing import Crossings
from alerts.deliveries import Notifiers
from alerts.email_sender import EmailSender
from alerts.secrets import SecretBox
from alerts.webhook_sender import WebhookSender
from alerts.whatsapp_sender import WhatsAppSender
from bot.allowances import MinuteAllowance
from bot.bootstrap import WelcomeBootstrap
from bot.catalog_views import CachedCatalog, LoadingCatalog
from bot.inbound import Inbox
from bot.limits import BOOTSTRAP_LEASE_MS, BootstrapLimits
from bot.messenger import Messenger, make_messenger
from bot.reception import Reception
from bot.tenants import TenantDirectory
from cache.two_tier import TwoTierCache
from catalog.breaker import CircuitBreaker
from catalog.client import CatalogClient
from catalog.reader import CatalogReader
from imports.feed import OrdersFeed
from insights.narrator import Narrator
from store.db import make_engine, make_read_engine, make_session_factory
from store.disconnects import mark_written
from store.redis import Keys, make_redis, unconfigured_redis
from store.settings import Settings

T = TypeVar("T")

# Actors can wait longer for Twilio than a webhook request can.
WORKER_SEND_TIMEOUT_S = 10.0
# Connections to the orders endpoint per process, shared by the imports it runs.
ORDERS_CONNECTIONS = 64


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
        self._sessions_given = session_factory is not None
        self.read_engine = make_read_engine(self.engine)
        self.read_sessions = session_factory or make_session_factory(self.read_engine)
        self.keys = Keys(settings.redis_namespace)
        # Objects that own connections or threads: built once, on first use, even when
        # several request threads ask at the same moment.
        self._shared: dict[str, Any] = {}
        self._shared_lock = threading.RLock()

    @cached_property
    def redis(self) -> redis.Redis:
        """Return the Redis client for cache, limits and locks (fails fast when Redis is down)."""
        if self.settings.redis_url is None:
            # Behaves like an outage: callers already handle Redis being unreachable.
            return unconfigured_redis()
        return make_redis(self.settings.redis_url)

    @cached_property
    def broker(self) -> dramatiq.Broker:
        """Return a broker to enqueue on (the worker process consumes from the same queues)."""
        return build_broker(self.settings)

    @property
    def cache(self) -> TwoTierCache:
        """Return the process's two-tier cache (its purge listener starts on first use)."""
        return self._once("cache", lambda: TwoTierCache.from_settings(self.settings, self.redis))

    @property
    def catalog_client(self) -> CatalogClient:
        """Return the process's catalog API client (one pooled httpx client)."""
        return self._once("catalog_client", lambda: CatalogClient.from_settings(self.settings))

    @property
    def catalog_breaker(self) -> CircuitBreaker:
        """Return the per-merchant circuit breaker of the catalog API."""
        return self._once(
            "catalog_breaker", lambda: CircuitBreaker.from_settings(self.settings, self.redis)
        )

    @property
    def orders_client(self) -> CatalogClient:
        """Return the client of the catalog's orders endpoint: its own connection pool, so
        an order import never makes a customer's menu fetch wait for a connection."""
        return self._once(
            "orders_client",
            lambda: CatalogClient.from_settings(self.settings, max_connections=ORDERS_CONNECTIONS),
        )

    @property
    def orders_breaker(self) -> CircuitBreaker:
        """Return the per-merchant breaker of the orders endpoint (apart from the menu's)."""
        return self._once(
            "orders_breaker",
            lambda: CircuitBreaker.from_settings(self.settings, self.redis, name="orders"),
        )

    @property
    def orders_feed(self) -> OrdersFeed:
        """Return the orders endpoint as imports read it (its client, its breaker)."""
        return self._once(
            "orders_feed",
            lambda: OrdersFeed(self.orders_client, self.orders_breaker, ORDERS_CONNECTIONS),
        )

    @property
    def catalog(self) -> CatalogReader:
        """Return the catalog as cached, breaker-guarded reads (`runtime.catalog.categories`)."""
        return self._once(
            "catalog",
            lambda: CatalogReader(
                self.cache, self.catalog_client, self.catalog_breaker, self.settings
            ),
        )

    @property
    def tenants(self) -> TenantDirectory:
        """Return the tenant lookup (restaurants by WhatsApp number, cached briefly)."""
        return self._once("tenants", lambda: TenantDirectory(self.read_sessions, self.settings))

    @property
    def messenger(self) -> Messenger:
        """Return the messenger for request paths (`TWILIO_SEND_TIMEOUT_MS`, 2 s)."""
        return self._once(
            "messenger", lambda: make_messenger(self.settings, self.settings.twilio_send_timeout_s)
        )

    @property
    def worker_messenger(self) -> Messenger:
        """Return the messenger for actors: a longer timeout, fewer ambiguous timeouts."""
        return self._once(
            "worker_messenger", lambda: make_messenger(self.settings, WORKER_SEND_TIMEOUT_S)
        )

    @property
    def catalog_peek(self) -> CachedCatalog:
        """Return catalog data available without waiting (the cache, never the API)."""
        return self._once("catalog_peek", lambda: CachedCatalog(self.catalog))

    @property
    def catalog_loader(self) -> LoadingCatalog:
        """Return catalog data that may be fetched upstream (workers only, never requests)."""
        return self._once("catalog_loader", lambda: LoadingCatalog(self.catalog))

    @property
    def reception(self) -> Reception:
        """Return the inbound-message handler of this process."""

        def build() -> Reception:
            inbox = Inbox(
                MinuteAllowance(self.redis, self.keys),
                self.catalog_peek,
                self.alert_crossings,
                record_events=self.settings.insight_events,
            )
            return Reception(
                self.settings,
                self.sessions,
                self.autocommit,
                self.redis,
                self.keys,
                inbox,
                self.messenger,
                self.broker,
            )

        return self._once("reception", build)

    @property
    def alert_crossings(self) -> Crossings:
        """Return the process's alert crossing detector (it remembers rules that fired)."""
        return self._once("alert_crossings", Crossings)

    @property
    def secret_box(self) -> SecretBox:
        """Return the encrypter of channel secrets (`SECRETS_KEY`)."""
        return self._once("secret_box", lambda: SecretBox(self.settings.secrets_key))

    @property
    def notifiers(self) -> Notifiers:
        """Return the senders of notifications: webhook, e-mail, WhatsApp, operator webhook."""

        def build() -> Notifiers:
            settings = self.settings
            return Notifiers(
                webhook=WebhookSender(allow_private=settings.alert_webhook_allow_private),
                # OPS_WEBHOOK_URL is the operator's own setting: no address rules for it.
                ops_webhook=WebhookSender(allow_private=True),
                email=EmailSender(settings.smtp_url, settings.smtp_from),
                whatsapp=WhatsAppSender(
                    self.sessions,
                    self.worker_messenger,
                    settings.content_sids.get("owner_alert"),
                    settings.queue_backoff_delay_ms,
                ),
                secrets=self.secret_box,
                ops_url=settings.ops_webhook_url,
                ops_secret=settings.ops_webhook_secret,
            )

        return self._once("notifiers", build)

    @property
    def bootstrap(self) -> WelcomeBootstrap:
        """Return the welcome bootstrap (catalog through cache and breaker, templates)."""

        def build() -> WelcomeBootstrap:
            pool = self._once("fetch_pool", lambda: ThreadPoolExecutor(16, "catalog-fetch"))
            return WelcomeBootstrap(
                self.catalog,
                self.cache,
                self.worker_messenger,
                pool,
                fetch_templates=not self.settings.console_mode,
            )

        return self._once("bootstrap", build)

    @property
    def insights_narrator(self) -> Narrator:
        """Return the optional insights narrator (`INSIGHTS_LLM_URL`) with its breaker."""
        return self._once("insights_narrator", lambda: Narrator(self.settings, self.redis))

    @property
    def bootstrap_limits(self) -> BootstrapLimits:
        """Return the bootstrap's concurrency and start-rate limits (shared through Redis)."""
        return self._once(
            "bootstrap_limits",
            lambda: BootstrapLimits(
                self.redis,
                self.keys,
                concurrency=self.settings.bootstrap_concurrency,
                per_minute=self.settings.bootstrap_rate_per_minute,
                lease_ms=BOOTSTRAP_LEASE_MS,
            ),
        )

    def override(self, name: str, value: Any) -> None:
        """Use `value` as the shared object `name` (tests: a messenger with a short timeout)."""
        with self._shared_lock:
            self._shared[name] = value

    def _once(self, name: str, build: Callable[[], T]) -> T:
        shared = self._shared.get(name)
        if shared is None:
            with self._shared_lock:
                shared = self._shared.get(name)
                if shared is None:
                    shared = self._shared[name] = build()
        return shared

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session in a transaction: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """Open a connection whose every statement commits by itself (single-row updates)."""
        # Its first statement commits: the request or job using it is never run again.
        mark_written()
        if self._sessions_given:
            # Tests hand in sessions on one connection held in a transaction: join it.
            with self.transaction() as session:
                yield session.connection()
            return
        with self.engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """Open a session for reading only (on SQLite it does not wait for writers)."""
        with self.read_sessions() as session, session.begin():
            yield session

    def close_clients(self) -> None:
        """Stop threads and close connections to Redis, the broker and the catalog API."""
        with self._shared_lock:
            shared, self._shared = self._shared, {}
        if "cache" in shared:
            shared["cache"].close()
        for client in ("catalog_client", "orders_client", "notifiers"):
            if client in shared:
                shared[client].close()
        if "insights_narrator" in shared:
            shared["insights_narrator"].close()
        if "fetch_pool" in shared:
            shared["fetch_pool"].shutdown(wait=False, cancel_futures=True)
        if "redis" in self.__dict__:
            self.redis.close()
        if "broker" in self.__dict__:
            self.broker.close()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def close(self) -> None:
        """Release every connection, the engine's included (tests and process exit)."""
        self.close_clients()
        self.engine.dispose()
