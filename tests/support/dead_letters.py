"""Waiting for dead letters in tests.

A job's row (or a notification's) says `dead` as soon as its last attempt fails; the worker
moves the message to the dead letters right after, when it gives the message back to the
broker. On a slow machine a test that reads the list at once can see it a moment before
the letter is there, so tests wait for the letters they expect.
"""

from __future__ import annotations

from typing import Any

from actors.dead_letters import list_letters
from tests.support.waiting import wait_until


def letters_when_listed(runtime: Any, count: int = 1, timeout: float = 30.0) -> list[Any]:
    """Return the listed dead letters once there are at least `count` (or what is listed
    after `timeout` s)."""

    def listed() -> list[Any] | None:
        _, letters = list_letters(runtime, offset=0, limit=100)
        return letters if len(letters) >= count else None

    return wait_until(listed, timeout=timeout) or list_letters(runtime, offset=0, limit=100)[1]
