"""Deploying without dropping webhooks: `kill -HUP` to the Procfile's gunicorn replaces its
workers while the listening socket stays open (README, "Deploying without dropping
webhooks")."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from localdev.run import read_procfile
from store.models import Message
from tests.support import factories
from tests.support.processes import ROOT, descendants, process_env, service
from tests.support.twilio import inbound_form, signature
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

WORKERS = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(settings, live_runtime, fake_twilio, tmp_path):
    """The Procfile's `web` command line, as a platform runs it (JSON logs, metrics dir)."""
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = process_env(
        settings,
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(WORKERS),
        WEB_THREADS="4",
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        TWILIO_ACCOUNT_SID=str(settings.twilio_account_sid),
        TWILIO_AUTH_TOKEN=str(settings.twilio_auth_token),
        TWILIO_API_BASE_URL=str(settings.twilio_api_base_url),
        PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    command = f"exec {read_procfile()['web']} --no-control-socket"
    log = tmp_path / "web.log"
    url = f"http://127.0.0.1:{port}"
    with service(["/bin/sh", "-c", command], env, log) as master:
        assert wait_until(lambda: _ready(url), timeout=90), log.read_text()[-3000:]
        yield master, url, log


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def workers_of(master: subprocess.Popen[bytes]) -> set[int]:
    return set(descendants(master.pid))


class Sender(threading.Thread):
    """Posts signed first messages, one after the other, until stopped; keeps every answer."""

    def __init__(self, url: str, token: str, to: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.to = url, token, to
        self.answers: list[int | str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        # Twilio waits 15 s for an answer; generous here, for a loaded test machine.
        with httpx.Client(base_url=self.url, timeout=60) as client:
            n = 0
            while not self.stopping.is_set():
                n += 1
                form = inbound_form(to=self.to, sender=f"+9665{70_000_000 + n}")
                webhook = f"{self.url}/whatsapp/webhook"
                headers = {"X-Twilio-Signature": signature(self.token, webhook, form)}
                try:
                    answer = client.post("/whatsapp/webhook", data=form, headers=headers)
                    self.answers.append(answer.status_code)
                except httpx.HTTPError as error:
                    self.answers.append(f"{type(error).__name__}: {error}")

    def answered(self) -> int:
        return len(self.answers)


def test_a_hup_replaces_the_workers_while_webhooks_keep_being_answered(web, live_runtime, settings):
    master, url, log = web
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    old = wait_until(lambda: len(workers_of(master)) == WORKERS and workers_of(master))
    sender = Sender(url, settings.twilio_auth_token, restaurant.whatsapp_number)
    sender.start()
    try:
        assert wait_until(lambda: sender.answered() >= 5, timeout=60), sender.answers

        master.send_signal(signal.SIGHUP)

        def replaced() -> set[int]:
            current = workers_of(master)
            return current if len(current) == WORKERS and not current & old else set()

        new = wait_until(replaced, timeout=90)
        assert new, (old, workers_of(master), log.read_text()[-3000:])
        after_hup = sender.answered()
        assert wait_until(lambda: sender.answered() >= after_hup + 5, timeout=60)
    finally:
        sender.stopping.set()
        sender.join(90)

    # Not one webhook failed or went unanswered, before, during or after the switch (the
    # waits above saw answers on both sides of it).
    assert set(sender.answers) == {200}, sender.answers
    # Every message is stored with its welcome in the outbox (on a loaded machine a send may
    # time out and be left to a worker, which this test does not run: rows, not sends).
    with live_runtime.read_transaction() as session:
        stored = dict(
            session.execute(
                select(Message.direction, func.count()).group_by(Message.direction)
            ).all()
        )
    assert stored == {"inbound": len(sender.answers), "outbound": len(sender.answers)}
    # Metrics survive the switch: the old workers' counts stay, the new ones' add up.
    scraped = httpx.get(f"{url}/metrics", timeout=30).text
    counts = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    webhooks = (("route", "/whatsapp/webhook"), ("status", "200"))
    assert counts[("restaurant_bot_webhook_seconds_count", webhooks)] == len(sender.answers)
    # The reloaded logging configuration: still one JSON object per line, the HUP's too.
    master.send_signal(signal.SIGTERM)
    assert master.wait(60) == 0
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert any(e["message"].startswith("Hang up") for e in entries)


def test_loading_the_gunicorn_config_imports_none_of_the_apps_code():
    # A HUP re-reads gunicorn.conf.py in the master and forks new workers from it: a
    # module of ours imported there would be the old release's in every new worker.
    script = (
        "import runpy, sys; runpy.run_path('gunicorn.conf.py'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('bot', 'actors', 'store', 'usage_api', 'cache', 'catalog', 'localdev',"
        " 'operations', 'signin', 'dashboard')))"
    )
    env = {
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "a-secret-key-of-the-test-0123456789",
        **os.environ,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
