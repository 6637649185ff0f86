"""`flask --app bot alerts show|set|test --restaurant ID` (SPEC §15)."""

import json

from sqlalchemy import select

from alerts.models import AlertEvent
from tests.support import factories


def test_show_prints_the_rules_and_channels(runner, db_session, settings):
    factories.restaurant(db_session, settings, restaurant_id="r1")
    result = runner.invoke(args=["alerts", "show", "--restaurant", "r1"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert len(shown["rules"]) == 5
    assert shown["channels"] == []


def test_set_replaces_the_rules(runner, db_session, settings):
    factories.restaurant(db_session, settings, restaurant_id="r1")
    result = runner.invoke(
        args=["alerts", "set", "--restaurant", "r1", "daily_messages:90", "pace:off"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(args=["alerts", "show", "--restaurant", "r1"]).stdout)
    assert shown["rules"] == [
        {"metric": "daily_messages", "threshold": 90, "enabled": True},
        {"metric": "pace", "threshold": None, "enabled": False},
    ]


def test_bad_rules_and_unknown_restaurants_are_one_line_and_exit_1(runner, db_session, settings):
    factories.restaurant(db_session, settings, restaurant_id="r1")
    bad = runner.invoke(args=["alerts", "set", "--restaurant", "r1", "daily_messages:150"])
    assert bad.exit_code == 1
    assert "1 to 100" in bad.output
    unknown = runner.invoke(args=["alerts", "show", "--restaurant", "nope"])
    assert unknown.exit_code == 1
    assert "unknown restaurant" in unknown.output


def test_test_prints_the_event_id(runner, db_session, settings):
    factories.restaurant(db_session, settings, restaurant_id="r1")
    result = runner.invoke(args=["alerts", "test", "--restaurant", "r1"])
    assert result.exit_code == 0, result.output
    event_id = result.stdout.strip().splitlines()[-1]
    assert db_session.scalars(select(AlertEvent.id)).all() == [event_id]
