"""`GET /api/insights`: what an owner reads, and the errors of SPEC §8."""

import datetime as dt

import pytest

from insights import batches, folding
from tests.insights.conftest import add_events, warm
from tests.support import factories
from tests.usage_api.conftest import Clock, admin_headers, owner_headers
from usage_api.clock import CLOCK

# Monday 20 October 2025, 18:30 in Riyadh (UTC+3).
NOW = dt.datetime(2025, 10, 20, 15, 30, tzinfo=dt.UTC)
OPENED_NEW = {"opened": True, "returning": False}
OPENED_RETURNING = {"opened": True, "returning": True}


@pytest.fixture
def clock(app):
    frozen = Clock(NOW)
    app.config[CLOCK] = frozen
    return frozen


@pytest.fixture
def riyadh(db_session, settings):
    return factories.restaurant(db_session, settings, timezone="Asia/Riyadh")


def utc(day, hour, minute=0):
    return dt.datetime(2025, 10, day, hour, minute, tzinfo=dt.UTC)


def analyzed(db_session, runtime, restaurant_id, specs):
    """Write the events, seal them and fold the batch (as the worker would)."""
    add_events(db_session, restaurant_id, specs)
    for batch_id in batches.seal_now(runtime.sessions, runtime.broker, NOW, restaurant_id):
        with runtime.transaction() as session:
            folding.fold_batch(session, batch_id, now=NOW)


def get(client, headers, query=""):
    return client.get(f"/api/insights{query}", headers=headers)


def a_week(db_session, runtime, restaurant_id):
    analyzed(
        db_session,
        runtime,
        restaurant_id,
        [
            # Monday 12:10 in Riyadh: a new customer browses and picks a branch.
            ("message_in", utc(20, 9, 10), 1, OPENED_NEW),
            ("welcome_sent", utc(20, 9, 10), 1),
            ("menu_shown", utc(20, 9, 11), 1),
            ("category_opened", utc(20, 9, 12), 1, {"categoryId": "rice"}),
            ("menu_shown", utc(20, 9, 13), 1),
            ("category_opened", utc(20, 9, 14), 1, {"categoryId": "grills"}),
            ("branches_shown", utc(20, 9, 15), 1),
            ("branch_chosen", utc(20, 9, 16), 1, {"branchId": "riyadh-olaya"}),
            # Saturday 20:05: a returning customer asks twice what the bot does not know.
            ("message_in", utc(18, 17, 5), 2, OPENED_RETURNING),
            ("welcome_sent", utc(18, 17, 5), 2),
            ("menu_shown", utc(18, 17, 6), 2),
            ("unrecognised_text", utc(18, 17, 7), 2, {"text": "do you deliver?"}),
            ("unrecognised_text", utc(18, 17, 9), 2, {"text": "do you deliver?"}),
            ("unrecognised_text", utc(18, 17, 10), 2, {"text": "أين أنتم"}),
            ("delivery_failed", utc(18, 17, 11), 2, {"errorCode": "63016"}),
            # Tuesday 13:00: a first message STOP (a conversation, no welcome).
            ("message_in", utc(14, 10, 0), 3, OPENED_NEW),
            ("opted_out", utc(14, 10, 0), 3),
            # Monday the 13th: the previous period.
            ("message_in", utc(13, 10, 0), 4, OPENED_NEW),
            ("opted_out", utc(13, 10, 5), 4),
        ],
    )


def test_an_owner_reads_the_last_seven_days_of_insights(
    client, db_session, runtime, riyadh, clock, fake_catalog
):
    menu = warm(runtime)
    a_week(db_session, runtime, riyadh.id)
    answer = get(client, owner_headers(db_session, riyadh.id))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert list(body) == [
        "restaurantId", "period", "totals", "funnel", "heatmap", "categories",
        "unrecognised", "findings", "summary", "orders", "freshAsOf",
    ]  # fmt: skip
    assert body["restaurantId"] == riyadh.id
    assert body["period"] == {"from": "2025-10-14", "to": "2025-10-20", "timezone": "Asia/Riyadh"}
    assert body["totals"] == {
        "conversations": 3,
        "newCustomers": 2,
        "returningCustomers": 1,
        "messagesIn": 3,
        "menuShown": 3,
        "categoryOpens": 2,
        "branchesShown": 1,
        "branchChoices": 1,
        "optOuts": 1,
        "deliveryFailures": 1,
    }
    assert body["funnel"] == [
        {"step": "welcome", "conversations": 2},
        {"step": "menu", "conversations": 2},
        {"step": "category", "conversations": 1},
        {"step": "branch", "conversations": 1},
    ]
    started = {
        (day, hour): n for day, row in enumerate(body["heatmap"]) for hour, n in enumerate(row) if n
    }
    assert started == {(0, 12): 1, (5, 20): 1, (1, 13): 1}  # Monday, Saturday, Tuesday
    assert len(body["heatmap"]) == 7
    assert {len(row) for row in body["heatmap"]} == {24}
    names = {str(c["id"]): c["name"] for c in menu}
    assert body["categories"][:2] == [
        {"id": "grills", "name": names["grills"], "opens": 1},
        {"id": "rice", "name": names["rice"], "opens": 1},
    ]
    unopened = sorted(set(names) - {"grills", "rice"})
    assert body["categories"][2:] == [{"id": i, "name": names[i], "opens": 0} for i in unopened]
    assert body["unrecognised"] == [
        {"text": "do you deliver?", "count": 2},
        {"text": "أين أنتم", "count": 1},
    ]
    assert [f["kind"] for f in body["findings"]] == [
        "never_opened",
        "unrecognised",
        "opt_out_rate",
        "delivery_failures",
    ]
    assert (body["summary"], body["orders"]) == (None, None)
    assert body["freshAsOf"] == "2025-10-20T09:16:00.000Z"


def test_dates_are_local_days_in_the_restaurants_zone_both_included(
    client, db_session, runtime, riyadh, clock
):
    a_week(db_session, runtime, riyadh.id)
    owner = owner_headers(db_session, riyadh.id)
    # 2025-10-18 local is 2025-10-17T21:00Z .. 2025-10-18T21:00Z: only Saturday's conversation.
    body = get(client, owner, "?from=2025-10-18&to=2025-10-18").get_json()
    assert body["totals"]["conversations"] == 1
    assert body["period"] == {"from": "2025-10-18", "to": "2025-10-18", "timezone": "Asia/Riyadh"}
    body = get(client, owner, "?from=2025-10-13&to=2025-10-20").get_json()
    assert body["totals"]["conversations"] == 4
    assert get(client, owner, "?to=2025-10-19").get_json()["period"]["from"] == "2025-10-13"


def test_a_zone_half_an_hour_off_reads_the_utc_hour_that_holds_its_midnight(
    client, db_session, runtime, settings, clock
):
    kolkata = factories.restaurant(db_session, settings, timezone="Asia/Kolkata")
    # 18:40Z is 00:10 on Tuesday the 21st in Kolkata (+5:30): the 18:00Z hour stands for
    # local midnight, so it counts on the 21st at hour 0.
    analyzed(db_session, runtime, kolkata.id, [("message_in", utc(20, 18, 40), 1, OPENED_NEW)])
    clock.now = utc(21, 6)
    owner = owner_headers(db_session, kolkata.id)
    body = get(client, owner, "?from=2025-10-21&to=2025-10-21").get_json()
    assert body["totals"]["conversations"] == 1
    assert body["heatmap"][1][0] == 1
    assert get(client, owner, "?from=2025-10-20&to=2025-10-20").get_json()["totals"] == {
        key: 0 for key in body["totals"]
    }


def test_a_restaurant_with_nothing_analyzed_reads_zeros_and_no_findings(
    client, db_session, riyadh, clock
):
    body = get(client, owner_headers(db_session, riyadh.id)).get_json()
    assert set(body["totals"].values()) == {0}
    assert body["heatmap"] == [[0] * 24 for _ in range(7)]
    assert (body["unrecognised"], body["findings"], body["freshAsOf"]) == ([], [], None)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?from=2025-13-01", "invalid_parameter"),
        ("?from=20251001", "invalid_parameter"),
        ("?to=yesterday", "invalid_parameter"),
        ("?from=2025-02-30&to=2025-03-01", "invalid_parameter"),
        ("?from=2025-10-20&to=2025-10-19", "invalid_parameter"),
        ("?from=2024-10-19&to=2025-10-20", "invalid_parameter"),  # 367 days
    ],
)
def test_bad_periods_are_400(client, db_session, riyadh, clock, query, code):
    answer = get(client, owner_headers(db_session, riyadh.id), query)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, code)


def test_a_period_of_366_days_is_served(client, db_session, riyadh, clock):
    answer = get(client, owner_headers(db_session, riyadh.id), "?from=2024-10-20&to=2025-10-20")
    assert answer.status_code == 200
    assert answer.get_json()["period"]["from"] == "2024-10-20"


def test_who_may_read_which_restaurant(client, db_session, settings, riyadh, clock):
    other = factories.restaurant(db_session, settings)
    owner = owner_headers(db_session, riyadh.id)
    admin = admin_headers(db_session)
    cases = [
        ({}, "", 401, "missing_credentials"),
        ({"Authorization": "Bearer rbpat_nope"}, "", 401, "invalid_credentials"),
        ({**owner, "X-Restaurant-Id": other.id}, "", 403, "forbidden"),
        (owner, f"?restaurantId={other.id}", 403, "forbidden"),
        (
            {k: v for k, v in owner.items() if k != "X-Restaurant-Id"},
            "",
            400,
            "missing_restaurant_id",
        ),
        (admin, "", 400, "missing_restaurant_id"),
        (admin, "?restaurantId=nobody", 404, "not_found"),
        (admin, "?restaurantId=bad%00id", 404, "not_found"),
    ]
    for headers, query, status, code in cases:
        answer = get(client, headers, query)
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code), query
    assert get(client, owner, f"?restaurantId={riyadh.id}").status_code == 200
    assert get(client, admin, f"?restaurantId={other.id}").get_json()["restaurantId"] == other.id


# -- statements per request -------------------------------------------------------------

# The credential; the restaurant; this and the previous period's totals; the heatmap's
# days; the keyed counts; the top texts; freshness and summary — and the orders section's
# "was there ever an import?" (its five statements when there was are its own tests').
STATEMENTS = 8


def lots_of_data(db_session, runtime, restaurant_id):
    """A year of conversations in every hour, with categories, branches, codes and texts."""
    specs = []
    start = utc(20, 0) - dt.timedelta(days=365)
    for hour in range(0, 365 * 24, 7):
        at = start + dt.timedelta(hours=hour)
        specs += [
            ("message_in", at, hour, OPENED_NEW),
            ("category_opened", at, hour, {"categoryId": f"c{hour % 40}"}),
            ("branch_chosen", at, hour, {"branchId": f"b{hour % 9}"}),
            ("delivery_failed", at, hour, {"errorCode": str(63000 + hour % 30)}),
            ("unrecognised_text", at, hour, {"text": f"question {hour % 50}"}),
        ]
    analyzed(db_session, runtime, restaurant_id, specs)


def test_the_statements_per_request_do_not_grow_with_the_data_or_the_period(
    client, db_session, runtime, riyadh, clock, statements
):
    owner = owner_headers(db_session, riyadh.id)
    get(client, owner)  # records the token's first use

    def measure(query):
        statements.clear()
        assert get(client, owner, query).status_code == 200
        selects = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
        return len(statements), len(selects)

    little = [measure(""), measure("?from=2024-10-20&to=2025-10-20")]
    lots_of_data(db_session, runtime, riyadh.id)
    much = [measure(""), measure("?from=2024-10-20&to=2025-10-20")]
    assert little == much
    assert {selects for _, selects in much} == {STATEMENTS}
    assert statements.touching("conversation_events") == []
    assert statements.touching("messages") == []


@pytest.fixture
def statements(engine):
    from sqlalchemy import event

    from tests.usage_api.conftest import StatementLog

    log = StatementLog()

    def record(_conn, _cursor, statement, *_args):
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)


def test_a_period_reads_whole_utc_days_and_its_edge_hours_and_nothing_outside(
    client, db_session, runtime, riyadh, clock
):
    # 2025-10-14..2025-10-20 in Riyadh is [2025-10-13T21:00Z, 2025-10-20T21:00Z).
    inside = [utc(13, 21), utc(13, 23, 59), utc(14, 0), utc(17, 12), utc(20, 0), utc(20, 20, 59)]
    outside = [utc(13, 20, 59), utc(20, 21), utc(21, 3)]
    analyzed(
        db_session,
        runtime,
        riyadh.id,
        [("message_in", at, n, OPENED_NEW) for n, at in enumerate(inside + outside)]
        + [
            ("category_opened", at, n, {"categoryId": "edge" if at.hour else "midnight"})
            for n, at in enumerate(inside)
        ],
    )
    clock.now = utc(21, 6)
    body = get(client, owner_headers(db_session, riyadh.id), "?from=2025-10-14&to=2025-10-20")
    body = body.get_json()
    assert body["totals"]["conversations"] == len(inside)
    assert body["totals"]["categoryOpens"] == len(inside)
    assert {c["id"]: c["opens"] for c in body["categories"]} == {"edge": 4, "midnight": 2}
    assert sum(map(sum, body["heatmap"])) == len(inside)


def test_spans_split_a_period_into_whole_utc_days_and_edge_hours():
    from insights.report import Span

    span = Span.of(utc(13, 21), utc(20, 21))
    assert (span.first_day, span.end_day) == (dt.date(2025, 10, 14), dt.date(2025, 10, 20))
    assert (span.head_end, span.tail_start) == (utc(14, 0), utc(20, 0))
    whole = Span.of(utc(13, 0), utc(15, 0))
    assert (whole.first_day, whole.end_day, whole.head_end, whole.tail_start) == (
        dt.date(2025, 10, 13), dt.date(2025, 10, 15), utc(13, 0), utc(15, 0),
    )  # fmt: skip
    short = Span.of(utc(13, 21), utc(14, 21))  # one local day: no whole UTC day inside
    assert short.first_day == short.end_day
    assert (short.head_end, short.tail_start) == (utc(14, 21), utc(14, 21))


@pytest.mark.parametrize(
    "timezone",
    ["Asia/Riyadh", "Asia/Kolkata", "America/St_Johns", "Europe/London", "America/New_York",
     "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"],
)  # fmt: skip
def test_a_days_starts_land_in_the_local_slot_of_each_hour_dst_days_included(timezone):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from insights.report import add_starts
    from store.periods import local_slot

    @settings(max_examples=60, deadline=None)
    @given(
        day=st.dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)),
        by_hour=st.lists(st.integers(0, 3), min_size=24, max_size=24),
    )
    def check(day, by_hour):
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        read = [[0] * 24 for _ in range(7)]
        add_starts(
            read, day, by_hour, timezone, start=midnight, end=midnight + dt.timedelta(days=1)
        )
        expected = [[0] * 24 for _ in range(7)]
        for hour, count in enumerate(by_hour):
            local_day, local_hour = local_slot(midnight + dt.timedelta(hours=hour), timezone)
            expected[local_day.weekday()][local_hour] += count
        assert read == expected

    check()


class OrdersStandIn:
    """A section as SPEC §13's order history will plug in: one statement, its findings."""

    name = "orders"

    def read(self, session, subject, period, *, now):
        from sqlalchemy import text

        count = session.execute(text("SELECT 3")).scalar_one()
        finding = {
            "kind": "top_items",
            "severity": "info",
            "title": "Mixed grill sells most",
            "text": "…",
            "numbers": {"orders": count},
        }
        return {"count": count, "period": [period.first.isoformat(), period.last.isoformat()]}, [
            finding
        ]


def test_a_plugged_in_section_fills_its_part_and_adds_its_findings(
    client, db_session, riyadh, clock, monkeypatch
):
    from insights import report

    monkeypatch.setattr(report, "SECTIONS", (OrdersStandIn(),))
    body = get(client, owner_headers(db_session, riyadh.id)).get_json()
    assert body["orders"] == {"count": 3, "period": ["2025-10-14", "2025-10-20"]}
    assert [f["kind"] for f in body["findings"]] == ["top_items"]
    assert list(body)[-2:] == ["orders", "freshAsOf"]
