"""The owner's Insights page (SPEC §12–14): what it shows of `GET /api/insights`, its
period picker, its errors, who may read it, and its statement count."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from markupsafe import escape

from dashboard.owner_insights_views import heat_levels, heatmap, mixed_text
from imports.money import money
from insights import batches, folding
from insights.narrator import refresh_summary
from insights.report import Subject
from localdev.fake_llm import FakeLLM
from store import credentials
from store.timeutil import utcnow
from tests.dashboard.conftest import sign_in
from tests.insights.conftest import add_events, say, warm
from tests.support import factories
from tests.usage_api.conftest import NOW

PAGE = "/dashboard/r/ins/insights"
OPENED_NEW = {"opened": True, "returning": False}
OPENED_RETURNING = {"opened": True, "returning": True}


def utc(day, hour, minute=0):
    return dt.datetime(2025, 10, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def restaurant(db_session, settings):
    """A Riyadh restaurant on the stand-in catalog's demo merchant (its menu has names)."""
    return factories.restaurant(
        db_session, settings, restaurant_id="ins", timezone="Asia/Riyadh", name="مطعم الديوان"
    )


@pytest.fixture
def owner(app, db_session, settings, restaurant):
    factories.restaurant(db_session, settings, restaurant_id="other", name="Other Grill")
    token = credentials.create_pat(db_session, restaurant_id="ins", expires_in_days=None)
    client = app.test_client()
    assert sign_in(client, restaurant_id="ins", token=token.secret).status_code == 302
    return client


@pytest.fixture
def admin(app, db_session, restaurant):
    key = credentials.create_api_key(db_session, name="ops")
    client = app.test_client()
    assert sign_in(client, api_key=key.secret).status_code == 302
    return client


def analyzed(db_session, runtime, restaurant_id, specs):
    """Write the events as the webhook would, seal them and fold the batch (the worker)."""
    add_events(db_session, restaurant_id, specs)
    for batch_id in batches.seal_now(runtime.sessions, runtime.broker, NOW, restaurant_id):
        with runtime.transaction() as session:
            folding.fold_batch(session, batch_id, now=NOW)


def a_week(db_session, runtime, restaurant_id="ins"):
    """Three conversations in the 7 days to Monday 20 October 2025 (Riyadh), one before."""
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
            ("category_opened", utc(20, 9, 14), 1, {"categoryId": "grills"}),
            ("branches_shown", utc(20, 9, 15), 1),
            ("branch_chosen", utc(20, 9, 16), 1, {"branchId": "riyadh-olaya"}),
            # Saturday 20:05: a returning customer types what the bot does not know.
            ("message_in", utc(18, 17, 5), 2, OPENED_RETURNING),
            ("welcome_sent", utc(18, 17, 5), 2),
            ("menu_shown", utc(18, 17, 6), 2),
            ("unrecognised_text", utc(18, 17, 7), 2, {"text": "do you deliver?"}),
            ("unrecognised_text", utc(18, 17, 9), 2, {"text": "do you deliver?"}),
            ("unrecognised_text", utc(18, 17, 10), 2, {"text": "هل يوجد توصيل؟"}),
            ("delivery_failed", utc(18, 17, 11), 2, {"errorCode": "63016"}),
            # Tuesday 13:00: a first message STOP.
            ("message_in", utc(14, 10, 0), 3, OPENED_NEW),
            ("opted_out", utc(14, 10, 0), 3),
            # Monday the 13th: the previous period.
            ("message_in", utc(13, 10, 0), 4, OPENED_NEW),
        ],
    )


def text_of(html: str) -> str:
    """Return a page's words without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_owner_reads_the_weeks_totals_funnel_heatmap_categories_and_texts(
    owner, db_session, runtime, clock, fake_catalog
):
    menu = warm(runtime)
    a_week(db_session, runtime)
    answer = owner.get(PAGE)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    words = text_of(html)
    assert '<bdi dir="auto">مطعم الديوان</bdi>' in html
    assert "Tue 14 Oct 2025 to Mon 20 Oct 2025 (7 days)" in words
    assert "Asia/Riyadh" in words
    assert "Conversations 3 2 new, 1 returning customers" in words
    # The funnel: conversations that reached each step, of the 3 started.
    assert "Got the welcome 2 · 66.7 %" in words
    assert "Chose a branch 1 · 33.3 %" in words
    assert 'width="66.67"' in html
    # The heatmap in Riyadh time: Monday 12:00, Saturday 20:00, Tuesday 13:00.
    assert html.count('class="heat-5">1</td>') == 2 * 3  # two layouts, three hours
    wide = html[html.index("heat-wide") : html.index("heat-tall")]
    monday = wide[wide.index('<th scope="row">Mon</th>') :]
    cells = monday[: monday.index("</tr>")].split("<td")[1:]
    assert len(cells) == 24
    assert [n for n, c in enumerate(cells) if c.startswith(' class="heat-5">1')] == [12]
    tall = html[html.index('class="heat-wrap heat-tall"') :]
    eight_pm = tall[tall.index('<th scope="row">20:00</th>') :]
    cells = eight_pm[: eight_pm.index("</tr>")].split("<td")[1:]
    assert [c.startswith(' class="heat-5">1') for c in cells] == [False] * 5 + [True, False]
    # Categories: the opened ones first, then the menu's unopened ones, flagged.
    names = {str(c["id"]): c["name"] for c in menu}
    categories = html[html.index('id="categories-title"') :]
    assert categories.index(names["grills"]) < categories.index("never opened")
    assert categories.count("never opened") == len(names) - 2
    # What the bot did not understand, Arabic read right to left.
    assert '<td><bdi dir="auto">do you deliver?</bdi></td><td class="num">2</td>' in html
    assert '<bdi dir="auto">هل يوجد توصيل؟</bdi>' in html
    # Findings with what to do; orders not imported yet.
    assert "nobody opened" in words
    assert "template is needed outside WhatsApp" in words
    assert "No order history yet — import it from the Jobs page" in words
    assert 'href="/dashboard/r/ins/jobs"' in html
    assert "style=" not in html


def test_the_period_picker_reads_other_days_and_marks_its_quick_link(
    owner, db_session, runtime, clock
):
    a_week(db_session, runtime)
    html = owner.get(f"{PAGE}?from=2025-10-13&to=2025-10-13").get_data(as_text=True)
    assert "Mon 13 Oct 2025 to Mon 13 Oct 2025 (1 day)" in text_of(html)
    assert "Conversations 1 " in text_of(html)
    assert 'value="2025-10-13"' in html
    quick = owner.get(f"{PAGE}?from=2025-09-21&to=2025-10-20").get_data(as_text=True)
    assert (
        '<a href="/dashboard/r/ins/insights?from=2025-09-21&amp;to=2025-10-20"'
        ' aria-current="true">last 30 days</a>' in quick
    )
    assert "Conversations 4 " in text_of(quick)
    # A form sent with blank dates reads as the default period.
    blank = owner.get(f"{PAGE}?from=&to=").get_data(as_text=True)
    assert "Tue 14 Oct 2025 to Mon 20 Oct 2025" in text_of(blank)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?from=20-10-2025", "'from' must be a date as YYYY-MM-DD"),
        ("?from=2025-02-30", "'from' is not a calendar date"),
        ("?from=2025-10-20&to=2025-10-01", "is after 'to'"),
        ("?from=2024-01-01&to=2025-10-20", "The period has 659 days; at most 366 are allowed"),
    ],
)
def test_a_bad_period_is_a_400_page_that_says_why_and_offers_the_default(owner, clock, query, says):
    answer = owner.get(PAGE + query)
    assert answer.status_code == 400
    html = unescape(answer.get_data(as_text=True))
    assert "That period cannot be shown" in html
    assert says in html
    assert f'href="{PAGE}">Show the last 7 days' in html


def test_a_quiet_period_says_so_and_what_to_do(owner, clock):
    html = owner.get(PAGE).get_data(as_text=True)
    words = text_of(html)
    assert "No conversations in this period" in words
    assert "Pick a longer period above" in words
    assert "Nothing to point out yet" in words
    assert 'class="heat' not in html
    assert "How far conversations got" not in words


def test_an_owner_cannot_read_another_restaurant_nor_an_unknown_one(owner, clock):
    assert owner.get("/dashboard/r/other/insights").status_code == 404
    assert owner.get("/dashboard/r/nobody/insights").status_code == 404


def test_a_signed_out_visitor_is_sent_to_sign_in(client, clock):
    answer = client.get(PAGE)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")


def test_an_admin_reads_it_read_only(admin, db_session, runtime, clock):
    a_week(db_session, runtime)
    answer = admin.get(PAGE)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "its owner's view, read-only" in unescape(html)
    assert "Conversations 3 " in text_of(html)
    forms = re.findall(r"<form[^>]*>", html)
    assert all('method="get"' in form or "/dashboard/logout" in form for form in forms), forms
    assert admin.get("/dashboard/r/nobody/insights").status_code == 404


class TestTheNarrativeSummary:
    """With an OpenAI-compatible endpoint configured (a real local server), the stored
    summary of the last 7 days shows above the findings — for that period only."""

    @pytest.fixture
    def llm_server(self):
        with FakeLLM() as server:
            yield server

    @pytest.fixture
    def settings(self, base_settings, llm_server):
        return base_settings.replace(
            insights_llm_url=llm_server.base_url, insights_llm_model="local-model"
        )

    def test_the_summary_shows_for_the_default_period_only(
        self, owner, db_session, runtime, restaurant, clock
    ):
        a_week(db_session, runtime)
        subject = Subject(restaurant.id, restaurant.timezone, restaurant.merchant_id)
        summary = refresh_summary(
            runtime.sessions, runtime.insights_narrator, subject, now=NOW, menu=None
        )
        assert summary
        html = owner.get(PAGE).get_data(as_text=True)
        assert "Summary of the last 7 days" in html
        assert str(escape(summary)) in html
        other = owner.get(f"{PAGE}?from=2025-10-13&to=2025-10-20").get_data(as_text=True)
        assert "Summary of the last 7 days" not in other


def test_a_read_only_key_reads_it_too(app, db_session, restaurant, clock):
    key = credentials.create_api_key(db_session, name="eyes", role="viewer")
    client = app.test_client()
    assert sign_in(client, api_key=key.secret).status_code == 302
    assert client.get(PAGE).status_code == 200


def test_the_usage_page_links_to_insights(owner, clock):
    html = owner.get("/dashboard/r/ins/usage").get_data(as_text=True)
    assert 'href="/dashboard/r/ins/insights">Insights</a>' in html


def test_messages_through_the_webhook_show_on_the_page(
    owner, client, db_session, runtime, settings, restaurant, fake_catalog
):
    """Real inbound code: customers write, the batch is sealed and folded, the page reads."""
    warm(runtime)
    say(client, settings, restaurant, "hi")
    say(client, settings, restaurant, "do you deliver?")
    say(client, settings, restaurant, "Do you  DELIVER?")
    say(client, settings, restaurant, "hello", sender="+966522222222")
    now = utcnow()
    for batch_id in batches.seal_now(runtime.sessions, runtime.broker, now, restaurant.id):
        with runtime.transaction() as session:
            folding.fold_batch(session, batch_id, now=now)
    html = owner.get(PAGE).get_data(as_text=True)
    words = text_of(html)
    assert "Conversations 2 2 new, 0 returning customers" in words
    assert '<td><bdi dir="auto">do you deliver?</bdi></td><td class="num">2</td>' in html
    assert "Customers often type" in words


def test_heat_levels_shade_in_fifths_of_the_busiest_hour():
    grid = [[0] * 24 for _ in range(7)]
    grid[0][1], grid[0][2], grid[0][3], grid[6][23] = 1, 5, 10, 3
    levels = heat_levels(grid)
    shaded = {(d, h): level for d, row in enumerate(levels) for h, level in enumerate(row) if level}
    assert shaded == {(0, 1): 1, (0, 2): 3, (0, 3): 5, (6, 23): 2}
    assert heat_levels([[0] * 24] * 7) == [[0] * 24] * 7


def test_a_heatmap_has_both_layouts_with_thousands_separators():
    grid = [[0] * 24 for _ in range(7)]
    grid[4][21] = 1234
    drawn = heatmap(grid)
    assert [label for label, _ in drawn.days] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert [label for label, _ in drawn.hours][:2] == ["00:00", "01:00"]
    assert drawn.days[4][1].count("<td") == 24
    assert '<td class="heat-5">1,234</td>' in drawn.days[4][1]
    assert drawn.hours[21][1].split("<td")[5] == ' class="heat-5">1,234</td>'
    assert drawn.peak == 1234


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("35.50", "SAR", "35.50 SAR"),
        ("1234567.250", "KWD", "1,234,567.250 KWD"),
        ("1500", "JPY", "1,500 JPY"),
        ("0.00", "SAR", "0.00 SAR"),
    ],
)
def test_money_keeps_every_minor_digit_and_groups_thousands(amount, currency, shown):
    assert money(amount, currency) == shown


# -- statements per request -------------------------------------------------------------

# Sign-in's session read; the restaurant (as the API); this and the previous period's
# totals, the heatmap's days, the keyed counts, the top texts, freshness and summary, "was
# there ever an import?" (the API's seven after its credential); the name for the heading;
# and the savepoints of the test session.


def lots_of_data(db_session, runtime):
    specs = []
    start = utc(20, 0) - dt.timedelta(days=365)
    for hour in range(0, 365 * 24, 7):
        at = start + dt.timedelta(hours=hour)
        specs += [
            ("message_in", at, hour, OPENED_NEW),
            ("category_opened", at, hour, {"categoryId": f"c{hour % 40}"}),
            ("unrecognised_text", at, hour, {"text": f"question {hour % 50}"}),
            ("delivery_failed", at, hour, {"errorCode": str(63000 + hour % 30)}),
        ]
    analyzed(db_session, runtime, "ins", specs)


def test_the_page_costs_the_same_statements_with_little_and_with_much_data(
    owner, db_session, runtime, clock, statements
):
    owner.get(PAGE)  # the session's first use is recorded once

    def measure(query):
        statements.clear()
        assert owner.get(PAGE + query).status_code == 200
        selects = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
        return len(statements), len(selects)

    year = "?from=2024-10-20&to=2025-10-20"
    little = [measure(""), measure(year)]
    lots_of_data(db_session, runtime)
    much = [measure(""), measure(year)]
    assert little == much
    # The session, the API's seven reads after its credential, the name.
    assert {selects for _, selects in much} == {1 + 7 + 1}, statements.statements
    assert statements.touching("conversation_events") == []


def test_arabic_names_inside_an_english_finding_keep_their_numbers_in_place():
    shown = mixed_text('Wrap / شاورما دجاج (148) and "هل يوجد توصيل؟" (3) <b>')
    assert shown == (
        '<bdi dir="auto">Wrap / <bdi dir="rtl">شاورما دجاج</bdi> (148) and &#34;'
        '<bdi dir="rtl">هل يوجد توصيل؟</bdi>&#34; (3) &lt;b&gt;</bdi>'
    )
