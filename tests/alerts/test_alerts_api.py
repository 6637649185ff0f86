"""The alerts API: rules, channels, validation and who may call it (SPEC §15, §8 errors)."""

import pytest

from tests.usage_api.conftest import add_restaurant, admin_headers, owner_headers


@pytest.fixture
def owner(db_session, settings):
    add_restaurant(db_session, settings, "r1")
    add_restaurant(db_session, settings, "r2")
    return owner_headers(db_session, "r1")


@pytest.fixture
def admin(db_session):
    return admin_headers(db_session)


def error_code(answer):
    return answer.get_json()["error"]["code"]


def test_a_restaurant_starts_with_every_default_rule_on(client, owner):
    answer = client.get("/api/alerts", headers=owner)
    assert answer.status_code == 200
    assert answer.get_json() == {
        "rules": [
            {"metric": "daily_messages", "threshold": 80, "enabled": True},
            {"metric": "daily_messages", "threshold": 100, "enabled": True},
            {"metric": "monthly_conversations", "threshold": 80, "enabled": True},
            {"metric": "monthly_conversations", "threshold": 100, "enabled": True},
            {"metric": "pace", "threshold": None, "enabled": True},
        ],
        "channels": [],
    }


def test_put_replaces_the_whole_list_and_answers_it(client, owner):
    rules = [
        {"metric": "daily_messages", "threshold": 50, "enabled": True},
        {"metric": "pace", "threshold": None, "enabled": False},
    ]
    answer = client.put("/api/alerts/rules", json={"rules": rules}, headers=owner)
    assert (answer.status_code, answer.get_json()) == (200, {"rules": rules})
    assert client.get("/api/alerts", headers=owner).get_json()["rules"] == rules


@pytest.mark.parametrize(
    "rules",
    [
        [{"metric": "daily_messages", "threshold": 0}],
        [{"metric": "daily_messages", "threshold": 101}],
        [{"metric": "daily_messages", "threshold": "80"}],
        [{"metric": "daily_messages"}],
        [{"metric": "weekly_messages", "threshold": 80}],
        [{"metric": "pace", "threshold": 80}],
        [{"metric": "daily_messages", "threshold": 80, "enabled": "yes"}],
        [{"metric": "daily_messages", "threshold": n} for n in range(1, 12)],
        "all of them",
    ],
    ids=["0", "101", "text", "missing", "metric", "pace-threshold", "enabled", "11-rules", "str"],
)
def test_bad_rules_are_refused_with_400(client, owner, rules):
    answer = client.put("/api/alerts/rules", json={"rules": rules}, headers=owner)
    assert (answer.status_code, error_code(answer)) == (400, "invalid_parameter")


def test_a_webhook_channel_shows_its_secret_once(client, owner):
    answer = client.post(
        "/api/alerts/channels",
        json={"type": "webhook", "target": "https://hooks.example.com/rb"},
        headers=owner,
    )
    assert answer.status_code == 201
    created = answer.get_json()
    assert list(created) == ["id", "type", "target", "createdAt", "secret"]
    assert (created["type"], created["target"]) == ("webhook", "https://hooks.example.com/rb")
    [listed] = client.get("/api/alerts", headers=owner).get_json()["channels"]
    assert listed == {k: v for k, v in created.items() if k != "secret"}


def test_email_and_whatsapp_channels_have_no_secret(client, owner):
    for kind, target in (("email", "owner@example.com"), ("whatsapp", "+966500000099")):
        answer = client.post(
            "/api/alerts/channels", json={"type": kind, "target": target}, headers=owner
        )
        assert answer.status_code == 201
        assert "secret" not in answer.get_json()


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("webhook", "ftp://example.com/x"),
        ("webhook", "not a url"),
        ("webhook", "http://user:pass@example.com/hook"),
        ("email", "not-an-address"),
        ("email", "a@b"),
        ("whatsapp", "0500000000"),
        ("pigeon", "+966500000099"),
    ],
)
def test_bad_channels_are_refused_with_400(client, owner, kind, target):
    answer = client.post(
        "/api/alerts/channels", json={"type": kind, "target": target}, headers=owner
    )
    assert (answer.status_code, error_code(answer)) == (400, "invalid_parameter")


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://localhost/hook",
    ],
)
def test_private_addresses_are_refused_unless_allowed(db_session, runtime, engine, owner, target):
    from bot import create_app
    from bot.runtime import Runtime

    strict = Runtime(
        runtime.settings.replace(alert_webhook_allow_private=False),
        engine=engine,
        session_factory=db_session.info["factory"],
    )
    client = create_app(runtime=strict).test_client()
    answer = client.post(
        "/api/alerts/channels", json={"type": "webhook", "target": target}, headers=owner
    )
    strict.close_clients()
    assert (answer.status_code, error_code(answer)) == (400, "invalid_parameter")
    allowed = runtime  # the test settings set ALERT_WEBHOOK_ALLOW_PRIVATE=1
    assert allowed.settings.alert_webhook_allow_private


def test_deleting_an_unknown_or_another_restaurants_channel_is_404(client, owner, db_session):
    other = owner_headers(db_session, "r2")
    created = client.post(
        "/api/alerts/channels",
        json={"type": "email", "target": "two@example.com"},
        headers=other,
    ).get_json()
    for channel_id in ("ch_nope", created["id"]):
        answer = client.delete(f"/api/alerts/channels/{channel_id}", headers=owner)
        assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_an_admin_names_the_restaurant_with_restaurant_id(client, owner, admin):
    assert client.get("/api/alerts?restaurantId=r2", headers=admin).status_code == 200
    answer = client.get("/api/alerts", headers=admin)
    assert (answer.status_code, error_code(answer)) == (400, "missing_restaurant_id")
    answer = client.get("/api/alerts?restaurantId=nope", headers=admin)
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_an_owner_cannot_reach_another_restaurant(client, owner):
    headers = {**owner, "X-Restaurant-Id": "r2"}
    assert client.get("/api/alerts", headers=headers).status_code == 403
    assert client.get("/api/alerts").status_code == 401


def test_a_test_send_answers_202_with_the_event_id(client, owner):
    answer = client.post("/api/alerts/test", headers=owner)
    assert answer.status_code == 202
    assert answer.get_json()["eventId"].startswith("evt_")


def test_the_delivery_log_is_paginated_newest_first(client, owner):
    client.post(
        "/api/alerts/channels", json={"type": "email", "target": "o@example.com"}, headers=owner
    )
    first = client.post("/api/alerts/test", headers=owner).get_json()["eventId"]
    second = client.post("/api/alerts/test", headers=owner).get_json()["eventId"]
    answer = client.get("/api/notifications?limit=1", headers=owner).get_json()
    assert answer["pagination"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}
    [item] = answer["data"]
    assert list(item) == [
        "id", "eventId", "type", "channelId", "status", "attempts", "lastError", "createdAt",
        "deliveredAt",
    ]  # fmt: skip
    assert item["eventId"] in (first, second)
    assert (item["status"], item["attempts"], item["deliveredAt"]) == ("pending", 0, None)
