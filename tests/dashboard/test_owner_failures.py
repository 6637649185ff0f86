"""The owner's "Messages that failed" page (SPEC §14): failures by error code with what to do.

Failures come from the real send path where a test can make them: a customer's first
message posted to the webhook, its welcome refused by the local FakeTwilio with an error
code, or a status callback that reports a failed delivery. Failures days ago, which no
send can produce, are written as the outbox writes them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from sqlalchemy import select

from store.models import Customer, Message, Restaurant
from store.timeutil import utcnow
from tests.support.twilio import STATUS_URL, inbound_form, post_signed

PAGE = "/dashboard/r/r1/failures"
_customers = itertools.count(1)


def new_customer() -> str:
    return f"+96655{next(_customers):07d}"


@pytest.fixture
def r1_number(people, db_session) -> str:
    return db_session.scalar(select(Restaurant.whatsapp_number).where(Restaurant.id == "r1"))


def write_first_message(client, settings, number: str) -> str:
    """A new customer writes to `number`: the webhook sends the welcome at once."""
    form = inbound_form(to=number, sender=new_customer())
    assert post_signed(client, settings.twilio_auth_token, form).status_code == 200
    return form["From"].removeprefix("whatsapp:")


def refused(client, fake_twilio, settings, number: str, code: int, *, times: int = 1) -> list[str]:
    """`times` new customers write; Twilio refuses each welcome with `code`."""
    fake_twilio.fail(status=400, code=code, times=times)
    return [write_first_message(client, settings, number) for _ in range(times)]


def reported_failed(client, settings, db_session, number: str, code: str) -> None:
    """A new customer's welcome is accepted, then its status callback says it failed."""
    write_first_message(client, settings, number)
    sid = db_session.scalars(
        select(Message.sid)
        .where(Message.direction == "outbound", Message.status == "sent")
        .order_by(Message.id.desc())
    ).first()
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": code}
    answer = post_signed(client, settings.twilio_auth_token, form, url=STATUS_URL)
    assert answer.status_code == 200


def failed_row(db_session, restaurant_id: str, code: str | None, at: dt.datetime) -> None:
    """Write a failed outbound message the way the outbox leaves one, at `at`."""
    customer = Customer(restaurant_id=restaurant_id, address=new_customer(), created_at=at)
    db_session.add(customer)
    db_session.flush()
    db_session.add(
        Message(
            restaurant_id=restaurant_id,
            customer_id=customer.id,
            direction="outbound",
            body="welcome",
            status="failed",
            error_code=code,
            created_at=at,
            updated_at=at,
        )
    )
    db_session.flush()


def page_text(client, path: str = PAGE) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def group_of(page: str, code: str) -> str:
    """Return the HTML of one code's section."""
    match = re.search(
        rf'<section class="card failure-group" id="code-{code}".*?</section>', page, re.S
    )
    assert match, f"no section for {code}"
    return match.group(0)


def summary_rows(page: str) -> list[tuple[str, str]]:
    """Return (code, count) of the summary table's rows, in order."""
    return re.findall(
        r'<code class="muted">([^<]+)</code></td>\s*<td class="num">([^<]+)</td>', page
    )


def test_failed_sends_are_grouped_by_code_with_counts_and_what_to_do(
    owner, settings, fake_twilio, db_session, r1_number
):
    window = refused(owner, fake_twilio, settings, r1_number, 63016, times=3)
    refused(owner, fake_twilio, settings, r1_number, 21610)
    refused(owner, fake_twilio, settings, r1_number, 63024)
    reported_failed(owner, settings, db_session, r1_number, "30007")
    reported_failed(owner, settings, db_session, r1_number, "30007")

    page = page_text(owner)

    assert "7 messages failed in the last 7 days" in re.sub(r"<[^>]+>", "", page)
    # Most failures first, ties by code.
    assert summary_rows(page) == [("63016", "3"), ("30007", "2"), ("21610", "1"), ("63024", "1")]
    outside = group_of(page, "63016")
    assert "Outside WhatsApp&#39;s 24-hour window" in outside
    assert "CONTENT_SID_OWNER_ALERT" in outside  # the setting that fixes it
    assert "Show the latest 3 of 3" in outside
    assert "send START" in group_of(page, "21610")
    assert "Not a WhatsApp number" in group_of(page, "63024")
    assert "Filtered as spam" in group_of(page, "30007")
    # Customers' numbers only shortened; no message text of theirs.
    for number in window:
        assert number not in page
    for number in window:
        assert f"{number[:5]}…{number[-2:]}" in outside
    assert "hello" not in page


def test_an_unknown_code_says_look_it_up_in_twilios_error_dictionary(
    owner, settings, fake_twilio, r1_number
):
    refused(owner, fake_twilio, settings, r1_number, 21999)
    section = group_of(page_text(owner), "21999")
    assert "Another error <code" in section
    assert "Look it up in Twilio&#39;s error dictionary" in section
    assert ">www.twilio.com/docs/api/errors/21999</a>" in section


def test_no_failure_is_said_plainly(owner):
    page = page_text(owner)
    assert "No message failed in the last 7 days" in page
    assert "Good news" in page
    assert "failure-group" not in page
    assert 'days=30">See the last 30 days</a>' in page
    assert "No message failed in the last 30 days" in page_text(owner, PAGE + "?days=30")


def test_the_period_picker_shows_the_last_7_or_30_days(owner, db_session):
    now = utcnow()
    failed_row(db_session, "r1", "63016", now - dt.timedelta(days=12))
    failed_row(db_session, "r1", "63016", now - dt.timedelta(days=40))  # in neither
    failed_row(db_session, "r1", "21610", now - dt.timedelta(hours=1))

    week = page_text(owner)
    month = page_text(owner, PAGE + "?days=30")

    assert summary_rows(week) == [("21610", "1")]
    assert summary_rows(month) == [("21610", "1"), ("63016", "1")]
    assert 'days=30" aria-current="true">Last 30 days' in month
    assert 'days=7" aria-current="true">Last 7 days' in week
    assert owner.get(PAGE + "?days=14").status_code == 400
    assert owner.get(PAGE + "?days=x").status_code == 400


def test_the_last_failure_is_shown_in_the_restaurants_zone(owner, db_session):
    at = utcnow().replace(hour=9, minute=5, second=0, microsecond=0)
    if at > utcnow():
        at -= dt.timedelta(days=1)
    failed_row(db_session, "r1", "63024", at)
    failed_row(db_session, "r1", "63024", at - dt.timedelta(hours=2))
    section = group_of(page_text(owner), "63024")
    riyadh = at + dt.timedelta(hours=3)  # Asia/Riyadh, no daylight saving
    assert f'last <time datetime="{at:%Y-%m-%dT%H:%M}' in section
    assert f">{riyadh:%Y-%m-%d} 12:05</time>" in section
    assert "(Asia/Riyadh)" in section


def test_failures_without_a_code_and_of_the_bot_itself_have_advice(owner, db_session):
    now = utcnow()
    failed_row(db_session, "r1", None, now)
    failed_row(db_session, "r1", "timeout", now)
    page = page_text(owner)
    assert "No reason given" in group_of(page, "none")
    assert "Twilio did not answer in time" in group_of(page, "timeout")
    assert "www.twilio.com/docs/api/errors/timeout" not in page


def test_the_page_costs_the_same_statements_with_few_and_many_failures(
    owner, db_session, statements
):
    now = utcnow()
    failed_row(db_session, "r1", "63016", now)
    page_text(owner)  # the session's first use is recorded once
    statements.clear()
    page_text(owner)
    few = len(statements)
    for n in range(60):
        failed_row(db_session, "r1", ["63016", "21610", "30008", "99999", None][n % 5], now)
        failed_row(db_session, "r2", "63016", now)
    statements.clear()
    page = page_text(owner)
    assert len(statements) == few
    assert summary_rows(page)[0] == ("63016", "13")
    assert len(statements.touching("messages")) == 1


def test_another_restaurants_page_is_not_found(owner, db_session):
    failed_row(db_session, "r2", "63016", utcnow())
    assert owner.get("/dashboard/r/r2/failures").status_code == 404
    assert owner.get("/dashboard/r/nowhere/failures").status_code == 404
    assert "63016" not in page_text(owner)  # r2's failure is not r1's


def test_signed_out_the_page_sends_to_sign_in(client, people):
    answer = client.get(PAGE)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")


@pytest.mark.parametrize("who", ["admin", "viewer"])
def test_an_operator_sees_the_page_read_only(request, db_session, who):
    client = request.getfixturevalue(who)
    failed_row(db_session, "r2", "21610", utcnow())
    page = page_text(client, "/dashboard/r/r2/failures")
    assert "its owner's view, read-only" in page
    assert "Customer unsubscribed" in page
    # No form but signing out: nothing to act on.
    assert page.count("<form") == 1
    assert 'href="/dashboard/admin/restaurants"' in page


def test_the_failures_are_read_through_the_partial_index_of_failed_messages(
    db_session, people, engine
):
    """The page's statement repeats the index's predicate word for word, so the database
    reads the failed rows alone (`ix_messages_failed`), not every message of the period."""
    from sqlalchemy import event

    from bot.failed_messages import failures_by_code

    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    now = utcnow()
    event.listen(engine, "before_cursor_execute", record)
    try:
        failures_by_code(db_session, "r1", now - dt.timedelta(days=7), now)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = seen[-1]
    connection = db_session.connection()
    if engine.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN "
    else:
        explain = "EXPLAIN QUERY PLAN "
    plan = " ".join(str(row) for row in connection.exec_driver_sql(explain + statement, parameters))
    assert "ix_messages_failed" in plan
