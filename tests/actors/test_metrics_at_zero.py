"""Every known series is on `/metrics` at 0 from start-up, before its first event.

Alert rules (`rate(restaurant_bot_dead_letters_total[5m]) > 0`, `increase(…retries…)`) see
"no data" for a series that does not exist yet; at 0 they evaluate. Checked in a fresh
process, as a web process starts, with prometheus-client's multiprocess directory.
"""

from __future__ import annotations

import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from store.job_kinds import declared_kinds
from tests.support.processes import ROOT, process_env

SCRAPE_AT_START = """
from bot import create_app
print(create_app().test_client().get("/metrics").get_data(as_text=True))
"""
OUTCOMES = ("succeeded", "retried", "dead", "failed", "postponed")


def scrape_a_fresh_web_process(settings, metrics_dir) -> dict[tuple[str, tuple], float]:
    env = process_env(settings, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE_AT_START],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    samples = {}
    for family in text_string_to_metric_families(done.stdout):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_job_retries_and_dead_letters_of_every_actor_are_0_before_any_job_ran(
    settings, engine, tmp_path
):
    samples = scrape_a_fresh_web_process(settings, tmp_path)
    actors = {
        "welcome_bootstrap",
        "deliver_message",
        "send_deferred_replies",
        "deliver_notification",
        "import_orders",
        "analyze_batch",
    }
    assert actors == {kind.actor for kind in declared_kinds()}
    for actor in actors:
        labels = (("actor", actor),)
        assert samples[("restaurant_bot_job_retries_total", labels)] == 0
        assert samples[("restaurant_bot_dead_letters_total", labels)] == 0
        for outcome in OUTCOMES:
            labels = (("actor", actor), ("outcome", outcome))
            assert samples[("restaurant_bot_job_seconds_count", labels)] == 0


def test_webhooks_and_twilio_sends_are_0_before_the_first_message(settings, engine, tmp_path):
    samples = scrape_a_fresh_web_process(settings, tmp_path)
    for route in ("/whatsapp/webhook", "/whatsapp/status"):
        labels = (("route", route), ("status", "200"))
        assert samples[("restaurant_bot_webhook_seconds_count", labels)] == 0
    assert samples[("restaurant_bot_twilio_sends_total", (("code", ""), ("result", "sent")))] == 0
    for code in ("connection", "timeout", "transport"):
        labels = (("code", code), ("result", "failed"))
        assert samples[("restaurant_bot_twilio_sends_total", labels)] == 0


def test_every_queue_is_on_metrics_at_0_before_its_first_message(settings, engine, tmp_path):
    samples = scrape_a_fresh_web_process(settings, tmp_path)
    assert samples[("restaurant_bot_shared_state_up", ())] == 1
    for queue in ("bootstrap", "delivery", "replies"):
        for state in ("ready", "delayed", "dead"):
            labels = (("queue", queue), ("state", state))
            assert samples[("restaurant_bot_queue_messages", labels)] == 0


def test_the_tracked_actors_the_metrics_know_are_the_ones_the_worker_declares(broker):
    declared = {
        (name, broker.get_actor(name).queue_name)
        for name in broker.get_declared_actors()
        if broker.get_actor(name).fn.__module__.startswith("actors.")
    }
    assert declared == set(declared_kinds())
