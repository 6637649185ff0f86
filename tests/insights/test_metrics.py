"""The insights in `/api/admin/metrics` and `/metrics`."""

from tests.actors.test_metrics import assert_matches_the_document, scrape, value
from tests.insights.conftest import say
from tests.support import factories
from tests.support.waiting import wait_until
from tests.usage_api.conftest import admin_headers


def test_metrics_count_events_batches_and_analyses(
    live_client, live_runtime, settings, worker, fake_twilio
):
    from insights import batches
    from store.timeutil import utcnow

    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings)
        admin = admin_headers(session)
    before = scrape(live_client)
    for name in (
        "restaurant_bot_insight_events_written_total",
        "restaurant_bot_insight_batches_sealed_total",
        "restaurant_bot_insight_batches_analyzed_total",
        "restaurant_bot_insight_analysis_seconds_count",
    ):
        assert (name, ()) in before, name  # present from zero

    say(live_client, settings, restaurant, "hi")
    snapshot = live_client.get("/api/admin/metrics", headers=admin).get_json()
    assert_matches_the_document(live_client, snapshot)
    assert snapshot["batches"] == {"open": 1, "sealed": 0, "analyzed": 0}
    assert "insights" in snapshot["queues"]

    [batch_id] = batches.seal_now(live_runtime.sessions, live_runtime.broker, utcnow())

    def analyzed():
        return live_client.get("/api/admin/metrics", headers=admin).get_json()["batches"]

    assert wait_until(lambda: analyzed() == {"open": 0, "sealed": 0, "analyzed": 1})
    analyzed_total = "restaurant_bot_insight_batches_analyzed_total"
    assert wait_until(
        lambda: value(scrape(live_client), analyzed_total) - value(before, analyzed_total) == 1
    )
    after = scrape(live_client)

    def moved(name):
        return value(after, name) - value(before, name)

    assert moved("restaurant_bot_insight_events_written_total") == 2
    assert moved("restaurant_bot_insight_batches_sealed_total") == 1
    assert moved("restaurant_bot_insight_analysis_seconds_count") == 1
    assert value(after, "restaurant_bot_insight_batches", status="analyzed") == 1
    assert batch_id > 0
