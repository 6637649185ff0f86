"""Job metrics for Prometheus: durations by actor and outcome, retries, dead letters.

Ours rather than `dramatiq.middleware.prometheus.Prometheus`, which starts an HTTP server
of its own and rewrites `PROMETHEUS_MULTIPROC_DIR` in each worker (mixed with metrics of
ours it drops series). Listed before `Retries` so that its `after_*` hooks run after
Retries decided what a failure means.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq

from actors.errors import Postpone
from store.metrics import DEAD_LETTERS, JOB_RETRIES, JOB_SECONDS


class JobMetrics(dramatiq.Middleware):
    """Feeds `store.metrics` from every message a worker processes."""

    def __init__(self) -> None:
        # A worker thread processes one message at a time; kept out of the message so it
        # never travels with a retry.
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._local.started = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started, self._local.started = getattr(self._local, "started", None), None
        if exception is None:
            outcome = "succeeded"
        elif isinstance(exception, Postpone):
            outcome = "postponed"
        elif message.failed:
            outcome = "dead" if message.options.get("given_up") == "exhausted" else "failed"
        else:
            outcome = "retried"
            JOB_RETRIES.labels(message.actor_name).inc()
        if started is not None:
            JOB_SECONDS.labels(message.actor_name, outcome).observe(time.perf_counter() - started)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._local.started = None

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        DEAD_LETTERS.labels(message.actor_name).inc()
