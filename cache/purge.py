"""Purge notices: a purge anywhere drops the purged keys from every process's local tier.

Why pub/sub rather than a generation number per merchant: a generation must be read from
Redis to be trusted, which either costs a round trip on every local hit (the tier would be
pointless) or is itself cached for up to the propagation bound. A subscriber thread gets
the notice in milliseconds at no cost per read. Pub/sub forgets messages sent while a
subscriber is disconnected, so every (re)subscription clears the whole local tier first:
a notice can be missed, a purge cannot. While Redis is down no purge can happen either,
so the local tier keeps serving; reconnecting is tried every second at most.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

# How often the listener looks at its stop flag while no message arrives.
_POLL_S = 0.1
_MAX_BACKOFF_S = 1.0


class PurgeListener:
    """A daemon thread per process that hands each published prefix to `on_purge`.

    Started lazily (before the local tier first stores anything), restarted in a forked
    child, reconnecting with backoff when Redis goes away.

    Parameters:
      client(redis.Redis): The pool to take a dedicated pub/sub connection from.
      channel(str): The channel purges are published on.
      on_purge(Callable): Called with each purged prefix, in the listener thread.
      on_subscribed(Callable): Called after each (re)subscription, before any notice.
    """

    def __init__(
        self,
        client: redis.Redis,
        channel: str,
        on_purge: Callable[[str], object],
        on_subscribed: Callable[[], object],
    ) -> None:
        self.redis = client
        self.channel = channel
        self._on_purge = on_purge
        self._on_subscribed = on_subscribed
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closed = False
        self._stop = threading.Event()
        self._first_attempt = threading.Event()
        self.subscribed = threading.Event()

    def ensure_started(self, wait: float = 1.0) -> None:
        """Start the thread unless it runs in this process; wait for its first attempt."""
        if self._closed or (self._pid == os.getpid() and self._thread is not None):
            return
        with self._lock:
            if self._closed:
                return
            if self._pid != os.getpid() or self._thread is None:
                self._stop = threading.Event()
                self._first_attempt = threading.Event()
                self.subscribed = threading.Event()
                self._thread = threading.Thread(
                    target=self._listen,
                    args=(self._stop,),
                    name=f"cache-purge-listener:{self.channel}",
                    daemon=True,
                )
                self._pid = os.getpid()
                self._thread.start()
            first_attempt = self._first_attempt
        first_attempt.wait(wait)

    @property
    def running(self) -> bool:
        """Return True while this process's listener thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread and close its connection."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and self._pid == os.getpid():
            thread.join(timeout)

    def _listen(self, stop: threading.Event) -> None:
        backoff, failing = 0.1, False
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                self._subscribe(pubsub, stop)
                if stop.is_set():
                    return
                self._on_subscribed()
                self.subscribed.set()
                self._first_attempt.set()
                if failing:
                    logger.info("cache purge listener reconnected to Redis")
                backoff, failing = 0.1, False
                while not stop.is_set():
                    message = pubsub.get_message(timeout=_POLL_S)
                    if message is not None and message.get("type") == "message":
                        self._on_purge(_text(message["data"]))
            except Exception as error:
                # Anything, not only RedisError: a connection closed under the thread
                # raises ValueError, and a dead listener would silently stop purges.
                self.subscribed.clear()
                self._first_attempt.set()
                if stop.is_set():
                    return
                logger.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "cache purge listener lost Redis (retrying in %.1f s): %s: %s",
                    backoff,
                    type(error).__name__,
                    error,
                )
                failing = True
                stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
            finally:
                _close_quietly(pubsub)

    def _subscribe(self, pubsub: redis.client.PubSub, stop: threading.Event) -> None:
        pubsub.subscribe(self.channel)
        while not stop.is_set():
            message = pubsub.get_message(timeout=_POLL_S)
            if message is not None and message.get("type") == "subscribe":
                return


def _close_quietly(pubsub: redis.client.PubSub) -> None:
    try:
        pubsub.close()
    except Exception as error:
        logger.debug("cache purge listener: closing its connection failed: %r", error)


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)
