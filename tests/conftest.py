"""Fixtures every test module uses: a real database, real Redis, the app, the fakes, a worker.

- `settings`: test settings (a Redis namespace of the run's own, short backoffs).
- `db_session`: a session on the run's database, rolled back after the test (savepoint).
- `app`, `client`, `runner`: the Flask app on that same rolled-back connection.
- `live_runtime`, `live_app`, `live_client`: committed data, for tests whose data other
  threads or processes must see (workers, concurrency); tables are emptied afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import hypothesis
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import create_app
from bot.runtime import Runtime
from localdev.catalog_server import CatalogServer, demo_catalog
from localdev.fake_twilio import FakeTwilio
from store.job_kinds import declared_queues
from store.redis import make_redis
from store.settings import Settings
from tests.support.databases import delete_all_rows, migrated_engine, run_database
from tests.support.redis import delete_namespace, run_redis

# CI runs property-based tests derandomized, so a red build is reproducible and a green
# one stays green; local runs explore new examples every time.
hypothesis.settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")

# Fernet key of the run (channel secrets at rest), like `make run`'s under instance/.
TEST_SECRETS_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="

# A test run's Redis keys live under this namespace, removed after each test.
RUN_NAMESPACE = f"rbtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with run_redis() as url:
        yield url
        delete_namespace(url, RUN_NAMESPACE)


@pytest.fixture(scope="session")
def database_url(run_dir: Path) -> Iterator[str]:
    with run_database(run_dir) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture(scope="session")
def catalog_server() -> Iterator[CatalogServer]:
    with CatalogServer(api_key="test-catalog-key") as server:
        yield server


@pytest.fixture
def fake_twilio(twilio_server: FakeTwilio) -> Iterator[FakeTwilio]:
    """FakeTwilio over real HTTP: records sends, injects faults (reset for every test)."""
    twilio_server.clear()
    twilio_server.clear_faults()
    twilio_server.latency = 0.0
    yield twilio_server
    twilio_server.clear_faults()


@pytest.fixture
def fake_catalog(catalog_server: CatalogServer) -> Iterator[CatalogServer]:
    """The catalog API over real HTTP with the demo menu (reset for every test)."""
    catalog_server.catalog = demo_catalog()
    catalog_server.clear_requests()
    catalog_server.clear_faults()
    catalog_server.latency = 0.0
    catalog_server.orders_latency = 0.0
    yield catalog_server
    catalog_server.clear_faults()


@pytest.fixture(scope="session")
def base_settings(
    database_url: str, redis_url: str, twilio_server: FakeTwilio, catalog_server: CatalogServer
) -> Settings:
    """Settings of the run: real Redis and database, the fakes, slow defaults shrunk."""
    return Settings(
        host="127.0.0.1",
        database_url=database_url,
        redis_url=redis_url,
        # BROKER_URL=amqp://… runs the suite's broker tests on RabbitMQ (`-m rabbitmq`).
        broker_url=os.environ.get("BROKER_URL") or None,
        redis_namespace=RUN_NAMESPACE,
        twilio_account_sid=twilio_server.account_sid,
        twilio_auth_token=twilio_server.auth_token,
        twilio_api_base_url=twilio_server.url,
        sufrah_api_base=catalog_server.url,
        twilio_send_timeout_s=0.5,
        queue_backoff_delay_ms=50,
        queue_max_backoff_ms=500,
        catalog_breaker_cooldown_ms=500,
        # A live worker refreshes its heartbeat about every second; on a loaded machine a
        # process can stall for longer, and a timeout it overstays re-runs its job.
        worker_heartbeat_timeout_ms=5000,
        sufrah_api_key="test-catalog-key",
        # Webhook channels store their signing secret encrypted with it (SPEC §15).
        secrets_key=TEST_SECRETS_KEY,
        # Webhook receivers in tests listen on 127.0.0.1 (`make run` sets it too).
        alert_webhook_allow_private=True,
        secret_key="test-secret-key-of-this-run-0123456789abcdef",
    )


@pytest.fixture
def settings(base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The run's settings, changed by `parametrize("settings", [{...}], indirect=True)`."""
    return base_settings.replace(**getattr(request, "param", {}))


@pytest.fixture(autouse=True)
def _clean_redis_namespace(redis_url: str) -> Iterator[None]:
    yield
    delete_namespace(redis_url, RUN_NAMESPACE)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the run's Redis (keys under `settings.redis_namespace` are the test's)."""
    current = make_redis(settings.require_redis_url())
    yield current
    current.close()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside one transaction rolled back after."""
    with engine.connect() as connection:
        outer = connection.begin()
        factory = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        session = factory()
        session.info["factory"] = factory
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def runtime(settings: Settings, engine: Engine, db_session: Session) -> Iterator[Runtime]:
    current = Runtime(settings, engine=engine, session_factory=db_session.info["factory"])
    yield current
    _close_clients(current)


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def live_runtime(settings: Settings, engine: Engine) -> Iterator[Runtime]:
    """A runtime on committed data; every table is emptied after the test."""
    current = Runtime(settings, engine=engine)
    yield current
    _close_clients(current)
    delete_all_rows(engine)


@pytest.fixture
def live_app(live_runtime: Runtime) -> Flask:
    app = create_app(runtime=live_runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def live_client(live_app: Flask) -> FlaskClient:
    return live_app.test_client()


@pytest.fixture(scope="session")
def broker(base_settings: Settings) -> Iterator[dramatiq.Broker]:
    """The run's real broker (Redis, the run's namespace) with every actor declared."""
    from actors.broker import setup_broker

    installed = setup_broker(base_settings)
    import actors.worker  # noqa: F401  (declares the actors on it)

    yield installed
    if hasattr(installed, "delete_queues"):
        # RabbitMQ: the run's own prefixed queues (also those only web-side brokers declared).
        installed.delete_queues(also=declared_queues())


@pytest.fixture
def worker(broker: dramatiq.Broker, live_runtime: Runtime) -> Iterator[dramatiq.Worker]:
    """An in-process Dramatiq worker on the real broker, using the committed-data runtime."""
    from actors.context import use_runtime

    use_runtime(live_runtime)
    running = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    running.start()
    yield running
    running.stop()
    # A Worker adds a middleware that starts consumers for queues declared later, and
    # Dramatiq never removes it: a stopped worker's would take messages of later tests.
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not running
    ]
    use_runtime(None)


def _close_clients(current: Runtime) -> None:
    # The engine is the run's, shared; only per-runtime clients are closed here.
    current.close_clients()
