"""A realistic run of real processes: gunicorn (2 workers) and a dramatiq worker, JSON logs.

Webhooks, API calls with tokens and jobs go through; then every captured log line must be
one JSON object carrying the ids that apply, no secret may appear in any line, and the
Prometheus metrics scraped from gunicorn must add up the work of every process.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import factories
from tests.support.processes import process_env, service
from tests.support.twilio import inbound_form, signature
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

METRICS_TOKEN = "metrics-token-0123456789"
WEBHOOKS = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def run(settings, live_runtime, job_actors, tmp_path, fake_twilio, fake_catalog):
    from actors.context import use_runtime

    use_runtime(live_runtime)
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = process_env(
        settings,
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=METRICS_TOKEN,
        TWILIO_ACCOUNT_SID=str(settings.twilio_account_sid),
        TWILIO_AUTH_TOKEN=str(settings.twilio_auth_token),
        TWILIO_API_BASE_URL=str(settings.twilio_api_base_url),
        SUFRAH_API_BASE=str(settings.sufrah_api_base),
        SUFRAH_API_KEY=str(settings.sufrah_api_key),
        HOST="127.0.0.1",
        PORT=str(port),
    )
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    web_command = [
        gunicorn,
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "bot:create_app()",
    ]
    worker_command = [
        sys.executable,
        "-m",
        "actors.run_worker",
        "actors.context:setup",
        "actors.worker",
        "tests.support.job_actors",
        "--processes",
        "2",
        "--threads",
        "2",
    ]
    logs = {"web": tmp_path / "web.log", "worker": tmp_path / "worker.log"}
    url = f"http://127.0.0.1:{port}"
    with (
        service(web_command, env, logs["web"]) as web,
        service(worker_command, env, logs["worker"]) as worker,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        assert wait_until(lambda: _ready(client), timeout=60), logs["web"].read_text()[-2000:]

        def stop(*processes: subprocess.Popen[bytes]) -> None:
            for process in processes or (web, worker):
                process.send_signal(signal.SIGTERM)
            for process in processes or (web, worker):
                assert process.wait(60) == 0

        stop.web = web  # type: ignore[attr-defined]
        yield client, logs, url, stop
    use_runtime(None)


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_realistic_run_logs_json_with_ids_and_no_secrets_and_metrics_add_up(
    run, live_runtime, settings, send_job, job_row, fake_twilio
):
    client, logs, url, stop = run
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, restaurant_id="r-logs")
        from store import credentials

        pat = credentials.create_pat(session, restaurant_id="r-logs", expires_in_days=None).secret
        api_key = credentials.create_api_key(session, name="ops").secret
    owner = {"Authorization": f"Bearer {pat}", "X-Restaurant-Id": "r-logs"}
    admin = {"X-API-Key": api_key}

    sids = []
    fake_twilio.fail(status=500, code=20500, times=1)  # one send fails: a delivery job retries
    for n in range(WEBHOOKS):
        form = inbound_form(to=restaurant.whatsapp_number, sender=f"+96650000001{n}")
        webhook_url = f"{url}/whatsapp/webhook"
        headers = {"X-Twilio-Signature": signature(settings.twilio_auth_token, webhook_url, form)}
        assert client.post("/whatsapp/webhook", data=form, headers=headers).status_code == 200
        sids.append(form["MessageSid"])
    job_id = send_job("slow_job", "test-slow", restaurant_id="r-logs", seconds=0.2, steps=2)
    assert wait_until(lambda: job_row(job_id).status == "succeeded", timeout=60)
    assert client.get("/api/usage", headers=owner).status_code == 200
    assert client.get(f"/api/jobs/{job_id}", headers=owner).json()["status"] == "succeeded"
    assert client.get("/api/admin/jobs", headers=admin).status_code == 200
    assert client.get("/api/admin/metrics", headers=admin).status_code == 200
    bad = client.get("/api/usage", headers={**owner, "Authorization": f"Bearer {pat}x"})
    assert bad.status_code == 401
    assert wait_until(lambda: len(fake_twilio.sent()) >= WEBHOOKS, timeout=60)

    # Prometheus: gunicorn's two workers and the dramatiq worker processes, added up.
    assert client.get("/metrics").status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    webhooks = (("route", "/whatsapp/webhook"), ("status", "200"))
    assert samples[("restaurant_bot_webhook_seconds_count", webhooks)] == WEBHOOKS
    slow_done = (("actor", "slow_job"), ("outcome", "succeeded"))
    assert samples[("restaurant_bot_job_seconds_count", slow_done)] == 1  # from the worker
    failed_send = (("code", "20500"), ("result", "failed"))
    assert samples[("restaurant_bot_twilio_sends_total", failed_send)] == 1

    # Stop the processes (gracefully), then read every line they wrote.
    stop()
    run_lines = []
    for name, path in logs.items():
        for line in path.read_text().splitlines():
            if line.strip():
                run_lines.append((name, line))
    entries = []
    for name, line in run_lines:
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), (name, line)
        assert {"time", "level", "logger", "message"} <= set(entry), (name, line)
        entries.append(entry)
    secrets = [pat, api_key, METRICS_TOKEN, settings.twilio_auth_token, settings.sufrah_api_key]
    for name, line in run_lines:
        for secret in secrets:
            assert secret not in line, (name, line)
    requests = [e for e in entries if e["logger"] == "bot.requests"]
    assert requests
    assert all("request_id" in e for e in requests)
    webhook_lines = [e for e in entries if e.get("message_sid") in sids]
    assert {e["message_sid"] for e in webhook_lines} == set(sids)
    assert all(e.get("restaurant_id") == "r-logs" for e in webhook_lines if "restaurant_id" in e)
    job_lines = [e for e in entries if e.get("job_id") == job_id]
    assert any(e["message"] == "slow job slept 0.2s" for e in job_lines)
    assert all(e.get("restaurant_id") == "r-logs" for e in job_lines)


def test_sigterm_to_gunicorn_lets_the_request_in_flight_finish(
    run, live_runtime, settings, fake_twilio
):
    client, _logs, url, stop = run
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    fake_twilio.latency = 1.0  # the welcome's send keeps the request busy for a second
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000099")
    headers = {
        "X-Twilio-Signature": signature(settings.twilio_auth_token, f"{url}/whatsapp/webhook", form)
    }
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(client.post("/whatsapp/webhook", data=form, headers=headers))
    )
    request.start()
    assert wait_until(lambda: fake_twilio.messages, timeout=10)  # the request is in flight
    time.sleep(0.2)
    stop(stop.web)
    request.join(10)
    assert [answer.status_code for answer in answers] == [200]
    assert len(fake_twilio.sent()) == 1


def test_a_chunked_webhook_is_read_whole_and_refused_with_413_past_64_kib(
    run, live_runtime, settings, fake_twilio
):
    from urllib.parse import urlencode

    client, _logs, url, _stop = run
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)

    def post_chunked(form: dict[str, str]) -> httpx.Response:
        body = urlencode(form).encode()
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature(
                settings.twilio_auth_token, f"{url}/whatsapp/webhook", form
            ),
        }
        return client.post("/whatsapp/webhook", content=chunks, headers=headers)

    # ~60 KB of Body: read whole (a cut body would fail its signature), stored, answered.
    near = inbound_form(to=restaurant.whatsapp_number, sender="+966500000077", body="a" * 60_000)
    answer = post_chunked(near)
    assert answer.status_code == 200, answer.text
    assert fake_twilio.wait_for(1)  # the welcome
    over = inbound_form(to=restaurant.whatsapp_number, sender="+966500000078", body="a" * 70_000)
    answer = post_chunked(over)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
