"""Bounded waits for tests that watch other threads and processes (never timing asserts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Return the first truthy value of `predicate()`, or its last value after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # a bounded wait, not a timing assert: ok
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
