"""The optional narrative from an OpenAI-compatible endpoint (a real local HTTP server)."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from insights import batches, folding
from insights.models import RestaurantInsight
from insights.narrator import Narrator, refresh_summary
from insights.report import Subject
from localdev.fake_llm import FakeLLM
from store.timeutil import utcnow
from tests.insights.conftest import CUSTOMER, say
from tests.support import factories
from tests.support.waiting import wait_until
from tests.usage_api.conftest import owner_headers

FAILURES = 2


@pytest.fixture(scope="module")
def llm_server():
    with FakeLLM() as server:
        yield server


@pytest.fixture
def fake_llm(llm_server):
    llm_server.mode = "good"
    llm_server.latency = 0.0
    llm_server.clear_requests()
    llm_server.clear_faults()
    yield llm_server
    llm_server.clear_faults()


@pytest.fixture
def settings(base_settings, llm_server):
    return base_settings.replace(
        insights_llm_url=llm_server.base_url,
        insights_llm_model="local-model",
        insights_llm_api_key="llm-secret",
        insights_llm_breaker_failures=FAILURES,
        insights_llm_breaker_cooldown_ms=60_000,
    )


@pytest.fixture
def restaurant(db_session, settings):
    return factories.restaurant(db_session, settings, timezone="Asia/Riyadh")


def conversation(client, db_session, runtime, settings, restaurant):
    """A customer writes (with their number, name and a question in the text), analyzed."""
    say(client, settings, restaurant, "hi", ProfileName="Sara Alqahtani")
    say(client, settings, restaurant, "call me on 0501234567 about the zebra cake")
    for batch_id in batches.seal_now(runtime.sessions, runtime.broker, utcnow(), restaurant.id):
        with runtime.transaction() as session:
            folding.fold_batch(session, batch_id, now=utcnow())


def subject(restaurant):
    return Subject(restaurant.id, restaurant.timezone, restaurant.merchant_id)


def refresh(runtime, restaurant, now=None):
    return refresh_summary(
        runtime.sessions,
        runtime.insights_narrator,
        subject(restaurant),
        now=now or utcnow(),
        menu=None,
    )


def summary_served(client, db_session, restaurant, query=""):
    answer = client.get(f"/api/insights{query}", headers=owner_headers(db_session, restaurant.id))
    assert answer.status_code == 200
    body = answer.get_json()
    return body["summary"], body["findings"]


def test_a_summary_of_the_last_seven_days_is_stored_and_served_for_that_period_only(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio
):
    conversation(client, db_session, runtime, settings, restaurant)
    summary = refresh(runtime, restaurant)
    assert summary == (
        "This week the bot had 1 conversations. Most customers look at the menu; make the "
        "most opened categories easy to reach."
    )
    assert summary_served(client, db_session, restaurant)[0] == summary
    today = utcnow().astimezone(dt.timezone(dt.timedelta(hours=3))).date()
    assert summary_served(client, db_session, restaurant, f"?from={today}&to={today}")[0] is None
    [request] = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer llm-secret"
    assert json.loads(request.body)["model"] == "local-model"


def test_nothing_about_a_customer_leaves_the_machine(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio
):
    conversation(client, db_session, runtime, settings, restaurant)
    refresh(runtime, restaurant)
    [request] = fake_llm.requests
    sent = request.body.decode()
    for private in (CUSTOMER, CUSTOMER[1:], "0501234567", "Sara", "Alqahtani", "zebra", "cake"):
        assert private not in sent, private
    facts = json.loads(json.loads(sent)["messages"][-1]["content"])
    assert facts["conversations"] == 1
    assert facts["unrecognisedTexts"] == 1  # how many, never which


@pytest.mark.parametrize("fault", ["down", "garbage", "empty", "slow"])
def test_a_failing_endpoint_gives_no_summary_and_the_findings_are_still_served(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio, fault
):
    conversation(client, db_session, runtime, settings, restaurant)
    if fault == "down":
        fake_llm.add_fault("fail", "chat/completions", status=503, body={"error": "overloaded"})
    elif fault == "slow":
        runtime.override("insights_narrator", Narrator(settings, runtime.redis, timeout_s=0.3))
        fake_llm.add_fault("timeout", "chat/completions", seconds=1.5)
    else:
        fake_llm.mode = fault
    assert refresh(runtime, restaurant) is None
    summary, findings = summary_served(client, db_session, restaurant)
    assert summary is None
    assert summary_served(client, db_session, restaurant)[1] == findings
    stored = db_session.scalar(
        select(RestaurantInsight).where(RestaurantInsight.restaurant_id == restaurant.id)
    )
    assert stored.summary is None
    assert stored.fresh_as_of is not None


def test_the_breaker_opens_after_the_configured_failures_and_then_fails_fast(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio
):
    conversation(client, db_session, runtime, settings, restaurant)
    assert refresh(runtime, restaurant) is not None  # a summary is stored …
    fake_llm.add_fault("fail", "chat/completions", status=500)
    later = utcnow() + dt.timedelta(minutes=11)
    for _ in range(FAILURES):
        assert refresh(runtime, restaurant, later) is None
    assert len(fake_llm.requests) == 1 + FAILURES
    assert runtime.insights_narrator.breaker.state("endpoint") == "open"
    fake_llm.clear_faults()
    assert refresh(runtime, restaurant, later) is None  # open: not even asked
    assert len(fake_llm.requests) == 1 + FAILURES
    assert not runtime.insights_narrator.serves_summaries()


def test_a_stored_summary_is_not_served_while_the_breaker_is_open(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio
):
    conversation(client, db_session, runtime, settings, restaurant)
    assert refresh(runtime, restaurant)
    breaker = runtime.insights_narrator.breaker
    for _ in range(FAILURES):
        breaker._record_failure("endpoint", trial=False)
    assert summary_served(client, db_session, restaurant)[0] is None
    breaker.reset("endpoint")
    assert summary_served(client, db_session, restaurant)[0] is not None


def test_a_summary_younger_than_ten_minutes_is_not_asked_for_again(
    client, db_session, runtime, settings, restaurant, fake_llm, fake_twilio
):
    conversation(client, db_session, runtime, settings, restaurant)
    now = utcnow()
    first = refresh(runtime, restaurant, now)
    assert refresh(runtime, restaurant, now + dt.timedelta(minutes=9)) == first
    assert len(fake_llm.requests) == 1
    refresh(runtime, restaurant, now + dt.timedelta(minutes=10))
    assert len(fake_llm.requests) == 2


def test_without_an_llm_url_nothing_is_asked_and_the_summary_is_null(
    client, db_session, runtime, base_settings, restaurant, fake_llm, fake_twilio
):
    narrator = Narrator(base_settings, runtime.redis)
    assert not narrator.configured
    assert narrator.summarise({"conversations": 1}) is None
    assert fake_llm.requests.snapshot() == []


def test_the_worker_refreshes_the_summary_after_an_analysis(
    live_runtime, live_client, settings, worker, fake_llm, fake_twilio
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
    say(live_client, settings, restaurant, "hi")
    batches.seal_now(live_runtime.sessions, live_runtime.broker, utcnow(), restaurant.id)

    def stored():
        with live_runtime.read_transaction() as session:
            row = session.get(RestaurantInsight, restaurant.id)
            return row.summary if row is not None else None

    assert wait_until(stored)
    assert stored().startswith("This week the bot had 1 conversations.")
