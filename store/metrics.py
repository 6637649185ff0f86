"""Prometheus metrics every process feeds (web, worker); served by `GET /metrics`.

Created unregistered: `/metrics` builds a fresh registry per scrape, from the files of
every process in `PROMETHEUS_MULTIPROC_DIR` when it is set (several gunicorn workers and
dramatiq worker processes), else from these objects. No label carries a tenant
identifier (restaurant, merchant, customer): label values come from small fixed sets.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

WEBHOOK_SECONDS = Histogram(
    "restaurant_bot_webhook_seconds",
    "Time to answer a Twilio webhook, by route and HTTP status.",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
TWILIO_SENDS = Counter(
    "restaurant_bot_twilio_sends",
    "Messages handed to Twilio, by result (sent, failed) and Twilio error code.",
    ["result", "code"],
    registry=None,
)
JOB_SECONDS = Histogram(
    "restaurant_bot_job_seconds",
    "Time to process a message, by actor and outcome.",
    ["actor", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=None,
)
# What `actors.middleware.metrics` reports a processed message as.
JOB_OUTCOMES = ("succeeded", "retried", "dead", "failed", "postponed")
JOB_RETRIES = Counter(
    "restaurant_bot_job_retries",
    "Failed attempts that will be retried, by actor.",
    ["actor"],
    registry=None,
)
DEAD_LETTERS = Counter(
    "restaurant_bot_dead_letters",
    "Messages moved to the dead letters, by actor.",
    ["actor"],
    registry=None,
)

# Conversation insights (SPEC §12). Unlabelled, so every process exports them from 0.
INSIGHT_EVENTS_WRITTEN = Counter(
    "restaurant_bot_insight_events_written",
    "Conversation events committed (webhook, deferred replies, delivery failures).",
    registry=None,
)
INSIGHT_BATCHES_SEALED = Counter(
    "restaurant_bot_insight_batches_sealed",
    "Event batches sealed (each gets one analysis job).",
    registry=None,
)
INSIGHT_BATCHES_ANALYZED = Counter(
    "restaurant_bot_insight_batches_analyzed",
    "Event batches folded into the aggregates (a re-run that changed nothing is not counted).",
    registry=None,
)
INSIGHT_ANALYSIS_SECONDS = Histogram(
    "restaurant_bot_insight_analysis_seconds",
    "Time to fold one batch into the aggregates.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)

PROCESS_METRICS = (
    WEBHOOK_SECONDS,
    TWILIO_SENDS,
    JOB_SECONDS,
    JOB_RETRIES,
    DEAD_LETTERS,
    INSIGHT_EVENTS_WRITTEN,
    INSIGHT_BATCHES_SEALED,
    INSIGHT_BATCHES_ANALYZED,
    INSIGHT_ANALYSIS_SECONDS,
)


def start_at_zero(
    *, actors: Iterable[str], webhook_routes: Iterable[str], send_failure_codes: Iterable[str]
) -> None:
    """Create every known label set at 0 in this process.

    A labelled series otherwise appears only with its first event, and an alert rule on
    it (`increase(restaurant_bot_dead_letters_total[10m]) > 0`) sees "no data" until then.
    In multiprocess mode the zeros are written to this process's files, so any scrape
    shows them.
    """
    for actor in actors:
        JOB_RETRIES.labels(actor)
        DEAD_LETTERS.labels(actor)
        for outcome in JOB_OUTCOMES:
            JOB_SECONDS.labels(actor, outcome)
    for route in webhook_routes:
        WEBHOOK_SECONDS.labels(route, "200")
    TWILIO_SENDS.labels("sent", "")
    for code in send_failure_codes:
        TWILIO_SENDS.labels("failed", code)
