"""Redis for the test run: the server at REDIS_URL, else an embedded one; a namespace per run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from localdev.embedded_redis import EmbeddedRedis


@contextmanager
def run_redis() -> Iterator[str]:
    """Yield a Redis URL: REDIS_URL when set (CI, this machine), else a private server."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


def delete_namespace(url: str, namespace: str) -> None:
    """Delete every key under `namespace:` — never anything else on a shared server."""
    client = redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()
