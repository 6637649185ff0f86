"""An import tells its owner how it ended, through the restaurant's alert channels (SPEC §13,
§15): a signed webhook with `import.completed` and the true count, or `import.failed`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.channels import create_channel
from alerts.secrets import SecretBox
from localdev.webhook_receiver import WebhookReceiver
from store.timeutil import utcnow
from tests.support.processes import on_rabbitmq
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def channel(demo, live_runtime, settings, receiver) -> tuple[str, str]:
    """A webhook channel of the demo restaurant; returns its path and secret."""
    receiver.clear_requests()
    path = f"/hooks/{demo.id}"
    with live_runtime.transaction() as session:
        created = create_channel(
            session,
            demo.id,
            {"type": "webhook", "target": f"{receiver.url}{path}"},
            secrets=SecretBox(settings.secrets_key),
            allow_private=True,
            now=utcnow(),
        )
    assert created.secret
    return path, created.secret


def test_an_import_that_succeeds_sends_import_completed_with_the_count_it_stored(
    channel, receiver, start, finished, worker
):
    path, secret = channel
    job = finished(start(days=3), "succeeded")
    assert wait_until(lambda: receiver.events(path, secret), timeout=30)
    [event] = receiver.events(path, secret)
    assert event["type"] == "import.completed"
    assert event["restaurantId"] == "demo"
    assert event["data"] == {"orders": job.result["orders"], "jobId": job.id}


@pytest.mark.skipif(on_rabbitmq(), reason="the job ends dead the same way; checked on Redis")
@pytest.mark.parametrize("settings", [{"catalog_breaker_failures": 1000}], indirect=True)
def test_an_import_that_ends_dead_sends_import_failed_with_its_job(
    channel, receiver, start, finished, fake_catalog, worker
):
    path, secret = channel
    fake_catalog.fail(r"page=2", status=500)
    job = finished(start(days=3), "dead")
    assert wait_until(lambda: receiver.events(path, secret), timeout=30)
    [event] = receiver.events(path, secret)
    assert event["type"] == "import.failed"
    assert event["data"]["jobId"] == job.id
    assert "500" in event["data"]["error"]
