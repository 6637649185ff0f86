"""Metrics: `GET /api/admin/metrics` (JSON, admins) and `GET /metrics` (Prometheus text).

`/metrics` is open unless `METRICS_TOKEN` is set, then it needs `Authorization: Bearer
<token>`. Counters and histograms of every process come from prometheus-client's
multiprocess files when `PROMETHEUS_MULTIPROC_DIR` is set (a fresh registry per scrape),
else from this process; figures that live in Redis or the database — queue depths, dead
letters, jobs by status, breakers, cache hits summed over processes — are read at scrape
time. No label names a restaurant, merchant or customer.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.context import runtime
from bot.errors import ApiError
from bot.runtime import Runtime
from operations.snapshot import BREAKER_STATES, operations_snapshot
from store.metrics import PROCESS_METRICS
from usage_api.auth import require_admin

logger = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


@bp.get("/api/admin/metrics")
def admin_metrics() -> ResponseReturnValue:
    """Answer an admin with the operations snapshot as JSON."""
    require_admin()
    return jsonify(operations_snapshot(runtime()))


@bp.get("/metrics")
def prometheus_metrics() -> ResponseReturnValue:
    """Answer with every metric in Prometheus' text format."""
    token = runtime().settings.metrics_token
    if token:
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            raise ApiError(
                401,
                "missing_credentials",
                "send the metrics token as 'Authorization: Bearer …'",
                {"WWW-Authenticate": "Bearer"},
            )
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            offered.strip().encode(), token.encode()
        ):
            raise ApiError(
                401,
                "invalid_credentials",
                "the metrics token is wrong",
                {"WWW-Authenticate": "Bearer"},
            )
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in PROCESS_METRICS:
            registry.register(metric)
    registry.register(SharedStateCollector(runtime()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class SharedStateCollector(Collector):
    """Metrics read at scrape time from Redis and the database (the same for every process)."""

    def __init__(self, current: Runtime) -> None:
        self.current = current

    def collect(self) -> Iterator[Any]:
        snapshot = operations_snapshot(self.current)
        up = GaugeMetricFamily(
            "restaurant_bot_shared_state_up",
            "1 when Redis and the database answered this scrape, else 0 (their figures left out).",
        )
        up.add_metric([], 0 if snapshot["unavailable"] else 1)
        yield up
        if snapshot["queues"] is not None:
            depth = GaugeMetricFamily(
                "restaurant_bot_queue_messages",
                "Messages in a queue, by state.",
                labels=["queue", "state"],
            )
            for queue, counts in snapshot["queues"].items():
                for state, count in counts.items():
                    depth.add_metric([queue, state], count)
            yield depth
        if snapshot["jobs"] is not None:
            jobs = GaugeMetricFamily(
                "restaurant_bot_jobs", "Tracked jobs, by status.", labels=["status"]
            )
            for status, count in snapshot["jobs"]["byStatus"].items():
                jobs.add_metric([status], count)
            yield jobs
            oldest = GaugeMetricFamily(
                "restaurant_bot_oldest_queued_job_seconds",
                "Age of the oldest queued job (0: none).",
            )
            oldest.add_metric([], snapshot["oldestQueuedJob"]["ageSeconds"] or 0)
            yield oldest
        if snapshot["breakers"] is not None:
            breakers = GaugeMetricFamily(
                "restaurant_bot_catalog_breakers",
                "Merchants whose catalog breaker is not closed.",
                labels=["state"],
            )
            tripped = snapshot["breakers"].get("tripped") or {}
            for state in BREAKER_STATES:
                breakers.add_metric([state], sum(1 for s in tripped.values() if s == state))
            yield breakers
            orders = snapshot["breakers"].get("orders")
            if orders is not None:
                imports = GaugeMetricFamily(
                    "restaurant_bot_orders_breakers",
                    "Merchants whose orders-endpoint breaker (order imports) is not closed.",
                    labels=["state"],
                )
                for state in BREAKER_STATES:
                    imports.add_metric([state], sum(1 for s in orders.values() if s == state))
                yield imports
        cache = snapshot["cache"]
        if cache is not None and cache.get("available"):
            lookups = CounterMetricFamily(
                "restaurant_bot_cache_lookups",
                "Cache lookups, by tier and result.",
                labels=["tier", "result"],
            )
            for tier, counts in cache["tiers"].items():
                lookups.add_metric([tier, "hit"], counts["hits"])
                lookups.add_metric([tier, "miss"], counts["misses"])
            yield lookups
        if snapshot["batches"] is not None:
            batches = GaugeMetricFamily(
                "restaurant_bot_insight_batches",
                "Insight batches, by status (open: restaurants with events waiting).",
                labels=["status"],
            )
            for status, count in snapshot["batches"].items():
                batches.add_metric([status], count)
            yield batches
        workers = snapshot["workers"]
        if workers is not None:
            alive = GaugeMetricFamily(
                "restaurant_bot_broker_processes_alive",
                "Processes with a fresh heartbeat on the Redis broker (workers and enqueuers).",
            )
            alive.add_metric([], sum(1 for w in workers if w["alive"]))
            yield alive
