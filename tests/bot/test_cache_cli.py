"""`flask --app bot cache purge --merchant M`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot import create_app
from bot.runtime import Runtime
from cache.keys import CacheKeys
from localdev.embedded_redis import free_port
from store.settings import Settings


def test_purge_drops_the_merchants_keys_and_says_what_it_did(
    runner: FlaskCliRunner, runtime: Runtime, settings: Settings
) -> None:
    keys = CacheKeys.for_namespace(settings.redis_namespace)
    for key in (keys.categories("m1"), keys.branches("m1"), keys.products("m1", "c1")):
        runtime.cache.set(key, [], ttl_ms=60_000)
    runtime.cache.set(keys.categories("m2"), ["kept"], ttl_ms=60_000)

    result = runner.invoke(args=["cache", "purge", "--merchant", "m1"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("purged merchant m1: 3 keys deleted from Redis, ")
    assert result.stdout.rstrip().endswith("processes notified")
    assert runtime.redis.exists(keys.categories("m1"), keys.branches("m1")) == 0
    assert runtime.cache.peek(keys.categories("m1")) is None
    assert runtime.cache.peek(keys.categories("m2")) == ["kept"]


def test_purging_a_merchant_with_nothing_cached_succeeds(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["cache", "purge", "--merchant", "nobody"])

    assert result.exit_code == 0
    assert "purged merchant nobody: 0 keys deleted" in result.stdout


@pytest.fixture
def runner_without_redis(
    settings: Settings, engine: Engine, db_session: Session
) -> Iterator[FlaskCliRunner]:
    unreachable = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    current = Runtime(unreachable, engine=engine, session_factory=db_session.info["factory"])
    app = create_app(runtime=current)
    yield app.test_cli_runner()
    current.close_clients()


def test_purge_with_redis_unreachable_is_one_line_on_stderr_and_exit_1(
    runner_without_redis: FlaskCliRunner,
) -> None:
    result = runner_without_redis.invoke(args=["cache", "purge", "--merchant", "m1"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot purge the cache of merchant m1: Redis is unreachable" in result.stderr
