"""The owner's Alerts page (SPEC §14–15): rules, channels, a secret shown once, test sends,
the delivery log — through the alerts API's own functions and validation."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid

import pytest
from sqlalchemy import func, select

from alerts.models import AlertChannel, AlertEvent, AlertFiring, NotificationDelivery
from alerts.rules import DEFAULT_RULES, Rule, rules_of
from localdev.webhook_receiver import verify
from store import credentials
from store.models import Job
from tests.alerts.conftest import receiver, receiver_server  # noqa: F401
from tests.dashboard.conftest import NOW, csrf_of, sign_in
from tests.support import factories
from tests.support.waiting import wait_until
from tests.usage_api.conftest import add_restaurant, inbound_message

PAGE = "/dashboard/r/r1/alerts"
SECRET = re.compile(r'id="new-secret"[^>]*>(whsec_[^<]+)<')


def page_of(client, path=PAGE):
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]
    return answer.get_data(as_text=True)


def act(client, path, page_path=PAGE, **fields):
    """Post a form of the Alerts page with its CSRF token."""
    token = csrf_of(client.get(page_path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def rules_form(rules, **extra):
    """The rules form as a browser sends it (unticked boxes are not sent)."""
    fields = {"rules": str(len(rules))}
    for n, rule in enumerate(rules):
        fields[f"rule-{n}-metric"] = rule.metric
        fields[f"rule-{n}-threshold"] = "" if rule.threshold is None else str(rule.threshold)
        if rule.enabled:
            fields[f"rule-{n}-enabled"] = "on"
    return {**fields, **extra}


def add_channel(client, kind, target):
    return act(client, f"{PAGE}/channels", type=kind, target=target)


def channels(db_session):
    return list(db_session.scalars(select(AlertChannel).where(AlertChannel.restaurant_id == "r1")))


# Reading


def test_the_owner_reads_each_default_rule_in_words_with_its_limit(owner, clock):
    page = page_of(owner)
    assert "Tell me when</span> today’s messages reach" in page
    assert "% of the daily limit" in page
    assert "this month’s conversations reach" in page
    assert "on pace to reach the monthly limit before the month ends" in page
    assert page.count('type="checkbox"') == 5
    assert page.count(" checked") == 5
    assert "That is 800 of 1,000 messages" in page  # 80 % of the default daily limit
    assert "Not sent today" in page
    assert "Asia/Riyadh" in page
    assert "No channel yet" in page
    assert "Nothing sent yet" in page


def test_a_rule_that_fired_this_period_says_when_in_the_restaurants_zone(owner, db_session, clock):
    db_session.add(
        AlertFiring(
            restaurant_id="r1",
            metric="daily_messages",
            threshold=80,
            period="2025-10-20",  # NOW is 18:30 in Riyadh
            event_id="evt_1",
            fired_at=NOW - dt.timedelta(hours=1),
        )
    )
    db_session.add(  # last month’s: not this period
        AlertFiring(
            restaurant_id="r1",
            metric="monthly_conversations",
            threshold=80,
            period="2025-09",
            event_id="evt_2",
            fired_at=NOW - dt.timedelta(days=30),
        )
    )
    db_session.flush()
    page = page_of(owner)
    row = page[page.index('data-rule="daily_messages"') :]
    row = row[: row.index("</li>")]
    assert "Sent today</strong>, <time" in row
    assert ">2025-10-20 17:30</time> (Asia/Riyadh)" in row
    monthly = page[page.index('data-rule="monthly_conversations"') :]
    assert "Not sent this month" in monthly[: monthly.index("</li>")]


# Rules


def test_changing_a_rule_stores_it_and_the_page_shows_it(owner, db_session, clock):
    rules = [
        Rule("daily_messages", 90, True),
        Rule("daily_messages", 100, False),
        *DEFAULT_RULES[2:],
    ]
    answer = act(owner, f"{PAGE}/rules", **rules_form(rules))
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/r/r1/alerts?done=rules")
    assert rules_of(db_session, "r1") == tuple(rules)
    page = page_of(owner, answer.headers["Location"])
    assert "Alert rules saved" in page
    assert 'name="rule-0-threshold" value="90"' in page
    assert 'id="rule-1-enabled" name="rule-1-enabled">' in page  # not checked
    assert "Off: nothing is sent" in page
    assert "That is 900 of 1,000 messages" in page


def test_an_alert_can_be_added_from_the_form(owner, db_session, clock):
    fields = rules_form(DEFAULT_RULES, **{"new-metric": "monthly_conversations"})
    fields["new-threshold"] = "50"
    assert act(owner, f"{PAGE}/rules", **fields).status_code == 302
    assert rules_of(db_session, "r1")[-1] == Rule("monthly_conversations", 50, True)


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("150", "expected a whole percent from 1 to 100"),
        ("0", "expected a whole percent from 1 to 100"),
        ("", "expected a whole percent from 1 to 100"),
        ("eighty", "expected a whole percent from 1 to 100"),
    ],
)
def test_a_threshold_out_of_range_is_the_form_again_with_the_apis_message(
    owner, db_session, clock, threshold, message
):
    rules = [Rule("daily_messages", 80, False), *DEFAULT_RULES[1:]]
    fields = rules_form(rules)
    fields["rule-2-threshold"] = threshold
    answer = act(owner, f"{PAGE}/rules", **fields)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert f"Not saved — alert 3: {message}" in page
    assert f"Alert rules not saved: {message}" in page  # at the top, where the page opens
    assert 'aria-describedby="rules-error" autofocus' in page
    assert f'name="rule-2-threshold" value="{threshold}" aria-label' in page  # kept
    assert 'id="rule-0-enabled" name="rule-0-enabled">' in page  # the untick is kept too
    assert rules_of(db_session, "r1") == DEFAULT_RULES  # nothing stored


def test_a_forged_metric_is_refused_as_the_api_refuses_it(owner, db_session, clock):
    fields = rules_form(DEFAULT_RULES, **{"rule-0-metric": "weekly_messages"})
    answer = act(owner, f"{PAGE}/rules", **fields)
    assert answer.status_code == 400
    assert "expected one of daily_messages, monthly_conversations, pace" in answer.get_data(
        as_text=True
    )
    assert rules_of(db_session, "r1") == DEFAULT_RULES


# Channels


def test_a_new_webhook_channels_secret_is_shown_once(
    owner, db_session, runtime, redis_client, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    answer = add_channel(owner, "webhook", "https://hooks.example.com/rb")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "whsec" not in location
    [channel] = channels(db_session)
    assert location.endswith(f"?created={channel.id}")
    secret = runtime.secret_box.decrypt(channel.secret)
    # Waiting for its page under the session, encrypted: not readable in Redis either.
    [key] = redis_client.keys(runtime.keys("dashboard", "new-secret", "*"))
    assert 0 < redis_client.ttl(key) <= 600
    assert secret.encode() not in redis_client.get(key)
    page = page_of(owner, location)
    [shown] = SECRET.findall(page)
    assert shown == secret
    assert redis_client.keys(runtime.keys("dashboard", "new-secret", "*")) == []
    assert secret not in caplog.text
    assert "copy it now, it will not be shown again" in page
    assert "Webhook channel added" in page
    # Never again: not on a reload of the same address, not on the page.
    again = page_of(owner, location)
    assert shown not in again
    assert 'id="new-secret"' not in again
    assert shown not in page_of(owner)


def test_the_secret_waits_only_for_the_session_that_created_the_channel(
    app, owner, people, db_session, clock
):
    location = add_channel(owner, "webhook", "https://hooks.example.com/rb").headers["Location"]
    other = app.test_client()
    assert sign_in(other, restaurant_id="r1", token=people.owner_token).status_code == 302
    assert 'id="new-secret"' not in page_of(other, location)
    assert 'id="new-secret"' in page_of(owner, location)


def test_an_email_and_a_whatsapp_number_are_listed_as_the_owner_typed_them(
    owner, db_session, clock
):
    assert add_channel(owner, "email", " owner@example.com ").status_code == 302
    answer = add_channel(owner, "whatsapp", "+966500000001")
    page = page_of(owner, answer.headers["Location"])
    assert "WhatsApp channel added" in page
    assert '<code class="alerts-target">owner@example.com</code>' in page
    assert '<code class="alerts-target">+966500000001</code>' in page  # the owner's own
    assert 'id="new-secret"' not in page
    assert [c.type for c in channels(db_session)] == ["email", "whatsapp"]


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("webhook", "ftp://example.com/x", "a webhook must be an http:// or https:// URL"),
        ("webhook", "not a url", "a webhook must be an http:// or https:// URL"),
        ("email", "owner-at-example.com", "not an e-mail address (e.g. owner@example.com)"),
        ("whatsapp", "0500000001", "not an E.164 number (e.g. +966500000001)"),
        ("pigeon", "x", "type: expected one of webhook, email, whatsapp"),
    ],
)
def test_a_bad_target_is_the_page_again_with_the_message_and_nothing_stored(
    owner, db_session, clock, kind, target, message
):
    answer = add_channel(owner, kind, target)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert f"Not added: {message}" in page
    assert "Nothing was stored." in page
    if kind != "pigeon":
        assert f'id="target-{kind}" name="target"' in page
        assert f'value="{target}" aria-invalid="true"' in page  # what was typed is kept
        assert f'aria-describedby="error-{kind}" autofocus' in page
    assert channels(db_session) == []


def test_a_private_webhook_address_is_refused_unless_allowed(
    app, owner, db_session, runtime, clock
):
    runtime.settings = runtime.settings.replace(alert_webhook_allow_private=False)
    answer = add_channel(owner, "webhook", "http://127.0.0.1:8080/hook")
    assert answer.status_code == 400
    assert "127.0.0.1 is not a globally routable address" in answer.get_data(as_text=True)
    assert channels(db_session) == []


def test_deleting_a_channel_removes_it(owner, db_session, clock):
    add_channel(owner, "email", "owner@example.com")
    [channel] = channels(db_session)
    answer = act(owner, f"{PAGE}/channels/{channel.id}/delete")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("?done=deleted")
    assert channels(db_session) == []
    page = page_of(owner, answer.headers["Location"])
    assert "Channel deleted" in page
    assert "No channel yet" in page
    again = act(owner, f"{PAGE}/channels/{channel.id}/delete")
    assert again.status_code == 404


# Test sends and the delivery log


def test_send_a_test_queues_one_delivery_per_channel_and_the_log_shows_them(
    owner, db_session, clock
):
    add_channel(owner, "email", "owner@example.com")
    add_channel(owner, "webhook", "https://hooks.example.com/rb")
    answer = act(owner, f"{PAGE}/test")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("?sent=2")
    deliveries = list(db_session.scalars(select(NotificationDelivery)))
    assert sorted(d.channel_type for d in deliveries) == ["email", "webhook"]
    assert {d.status for d in deliveries} == {"pending"}
    assert db_session.scalar(select(func.count()).select_from(Job)) == 2  # one job each
    [event] = db_session.scalars(select(AlertEvent))
    assert event.type == "test"
    page = page_of(owner, answer.headers["Location"])
    assert "A test notification is queued for 2 channels" in page
    assert page.count("data-delivery=") == 2
    assert "2025-10-20 18:30" in page  # 15:30 UTC in Riyadh
    assert "Time (Asia/Riyadh)" in page


def test_a_test_without_channels_says_nothing_was_sent(owner, clock):
    answer = act(owner, f"{PAGE}/test")
    page = page_of(owner, answer.headers["Location"])
    assert "You have no channel yet, so no test was sent" in page


def test_the_log_shows_errors_attempts_and_a_deleted_channel(owner, db_session, clock):
    add_delivery(db_session, "r1", status="dead", attempts=4, error="HTTP 503 from receiver")
    page = page_of(owner)
    row = page[page.index("data-delivery=") :]
    row = row[: row.index("</tr>")]
    assert "HTTP 503 from receiver" in row
    assert '<td data-label="Attempts" class="num">4</td>' in row
    assert "a deleted channel" in row
    assert "status-dead" in row


def test_a_webhook_added_on_the_page_gets_the_test_signed_with_the_secret_shown(
    live_app,
    live_runtime,
    settings,
    receiver,  # noqa: F811  (the alerts tests' fixture, imported above)
    worker,
):
    with live_runtime.transaction() as session:
        factories.restaurant(session, settings, restaurant_id="r-live")
        token = credentials.create_pat(session, restaurant_id="r-live", expires_in_days=None)
    client = live_app.test_client()
    assert sign_in(client, restaurant_id="r-live", token=token.secret).status_code == 302
    page = "/dashboard/r/r-live/alerts"
    created = act(
        client, f"{page}/channels", page, type="webhook", target=f"{receiver.url}/hooks/page"
    )
    [secret] = SECRET.findall(client.get(created.headers["Location"]).get_data(as_text=True))
    assert act(client, f"{page}/test", page).headers["Location"].endswith("?sent=1")
    assert wait_until(lambda: receiver.posts("/hooks/page"), timeout=30)
    [post] = receiver.posts("/hooks/page")
    assert verify(secret, post.headers["X-RestaurantBot-Signature"], post.body)

    def delivered():
        text = client.get(page).get_data(as_text=True)
        return "status-delivered" in text and text

    shown = wait_until(delivered, timeout=30)
    assert "Test" in shown
    assert secret not in shown


# Who may do what


def test_an_operator_reads_the_page_without_any_form(admin, clock):
    page = page_of(admin)
    assert "read-only" in page
    assert "/alerts/rules" not in page
    assert "/alerts/channels" not in page
    assert "/alerts/test" not in page
    assert 'type="checkbox"' not in page


@pytest.mark.parametrize("who", ["admin", "viewer"])
@pytest.mark.parametrize("path", ["/rules", "/channels", "/test"])
def test_an_operators_action_is_refused_and_changes_nothing(request, db_session, clock, who, path):
    client = request.getfixturevalue(who)
    fields = rules_form([Rule("pace", None, False)]) | {"type": "email", "target": "a@b.example"}
    answer = act(client, PAGE + path, "/dashboard/admin/restaurants", **fields)
    assert answer.status_code == 403
    assert rules_of(db_session, "r1") == DEFAULT_RULES
    assert channels(db_session) == []
    assert db_session.scalar(select(func.count()).select_from(AlertEvent)) == 0


def test_a_viewer_reads_the_page_too(viewer, clock):
    assert "/alerts/rules" not in page_of(viewer)


def test_another_restaurants_alerts_are_not_found_for_an_owner(owner, db_session, clock):
    assert owner.get("/dashboard/r/r2/alerts").status_code == 404
    answer = act(owner, "/dashboard/r/r2/alerts/test")
    assert answer.status_code == 404
    assert db_session.scalar(select(func.count()).select_from(AlertEvent)) == 0


def test_a_post_without_its_csrf_token_is_refused(owner, db_session, clock):
    answer = owner.post(f"{PAGE}/channels", data={"type": "email", "target": "a@b.example"})
    assert answer.status_code == 400
    assert "Form expired" in answer.get_data(as_text=True)
    assert channels(db_session) == []


def test_signed_out_the_page_sends_to_the_login(client, people):
    answer = client.get(PAGE)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/dashboard/login")


# Statements


def add_delivery(db_session, restaurant_id, *, status="delivered", attempts=1, error=None):
    event_id = "evt_" + uuid.uuid4().hex
    db_session.add(
        AlertEvent(id=event_id, restaurant_id=restaurant_id, type="test", occurred_at=NOW, data={})
    )
    db_session.flush()
    db_session.add(
        NotificationDelivery(
            id=str(uuid.uuid4()),
            event_id=event_id,
            restaurant_id=restaurant_id,
            channel_id="ch_gone",
            channel_type="webhook",
            status=status,
            attempts=attempts,
            last_error=error,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    db_session.flush()


def more_alert_data(db_session, settings, start, count):
    for n in range(start, start + count):
        add_restaurant(db_session, settings, f"a{n:04d}")
        add_delivery(db_session, f"a{n:04d}")
        add_delivery(db_session, "r1")
        db_session.add(
            AlertChannel(
                id=f"ch_{n:024x}",
                restaurant_id="r1",
                type="email",
                target=f"o{n}@example.com",
                created_at=NOW,
            )
        )
        inbound_message(db_session, "r1", NOW)
    db_session.flush()


def test_the_page_costs_the_same_statements_with_little_and_much_data(
    owner, db_session, settings, clock, statements
):
    more_alert_data(db_session, settings, 0, 2)
    page_of(owner)  # the session's first use is recorded once

    def count():
        statements.clear()
        page_of(owner)
        return len(statements)

    little = count()
    more_alert_data(db_session, settings, 2, 18)  # 20 channels, a full page of the log
    much = count()
    assert little == much
    # Two savepoint pairs of the test session; the session; the usage (4); the zone; the
    # rules; the channels; this period's firings; the log's count and page.
    assert little <= 15, statements.statements
