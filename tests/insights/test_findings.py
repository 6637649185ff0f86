"""Findings, one rule at a time, against figures counted by hand."""

from insights import findings
from insights.findings import Figures
from insights.models import MEASURES


def figures(
    totals=None,
    previous=None,
    heatmap=None,
    funnel=None,
    category_opens=None,
    error_codes=None,
    texts=(),
    menu=None,
):
    return Figures(
        totals={**dict.fromkeys(MEASURES, 0), **(totals or {})},
        previous={**dict.fromkeys(MEASURES, 0), **(previous or {})},
        heatmap=heatmap or [[0] * 24 for _ in range(7)],
        funnel={"welcome": 0, "menu": 0, "category": 0, "branch": 0, **(funnel or {})},
        category_opens=category_opens or {},
        error_codes=error_codes or {},
        texts=list(texts),
        menu=menu,
    )


def heat(slots):
    grid = [[0] * 24 for _ in range(7)]
    for (day, hour), count in slots.items():
        grid[day][hour] = count
    return grid


def test_peak_hours_are_the_three_busiest_weekday_hours_ties_to_the_earlier():
    grid = heat({(4, 20): 6, (3, 13): 4, (0, 13): 4, (6, 9): 1, (2, 21): 3})
    found = findings.peak_hours(figures({"conversations": 18}, heatmap=grid))
    assert found == {
        "kind": "peak_hours",
        "severity": "info",
        "title": "Busiest hours: Friday 20:00, Monday 13:00, Thursday 13:00",
        "text": "77.8% of this period's 18 conversations started in these 3 hours of the "
        "week (restaurant time). Have staff ready and the menu up to date then; send "
        "announcements just before them.",
        "numbers": {
            "conversations": 18,
            "share": 77.8,  # 14 of 18
            "slots": [
                {"weekday": 4, "hour": 20, "conversations": 6},
                {"weekday": 0, "hour": 13, "conversations": 4},
                {"weekday": 3, "hour": 13, "conversations": 4},
            ],
        },
    }


def test_peak_hours_need_five_conversations():
    grid = heat({(4, 20): 4})
    assert findings.peak_hours(figures({"conversations": 4}, heatmap=grid)) is None


def test_funnel_drop_names_the_step_that_loses_the_largest_share():
    # welcome→menu loses 10 of 40 (25 %), menu→category 18 of 30 (60 %), category→branch
    # 8 of 12 (66.7 %): the last is the biggest share.
    found = findings.funnel_drop(
        figures(funnel={"welcome": 40, "menu": 30, "category": 12, "branch": 4})
    )
    assert found["title"] == "66.7% stop between a category and a branch chosen"
    assert found["severity"] == "warning"
    assert found["numbers"] == {
        "from": "category",
        "to": "branch",
        "reached": 12,
        "continued": 4,
        "dropPercent": 66.7,
    }


def test_funnel_drop_ignores_steps_with_fewer_than_five_conversations():
    # category→branch would lose 75 % but only 4 reached a category: menu→category counts.
    found = findings.funnel_drop(
        figures(funnel={"welcome": 10, "menu": 9, "category": 4, "branch": 1})
    )
    assert (found["numbers"]["from"], found["numbers"]["dropPercent"]) == ("menu", 55.6)
    assert found["severity"] == "warning"
    small = findings.funnel_drop(
        figures(funnel={"welcome": 10, "menu": 8, "category": 8, "branch": 8})
    )
    assert (small["numbers"]["dropPercent"], small["severity"]) == (20.0, "info")
    assert findings.funnel_drop(figures(funnel={"welcome": 4, "menu": 1})) is None
    assert (
        findings.funnel_drop(figures(funnel={"welcome": 9, "menu": 9, "category": 9, "branch": 9}))
        is None
    )


MENU = [("grills", "Grills"), ("salads", "Salads"), ("soups", None), ("kids", "Kids")]


def test_never_opened_lists_the_cached_menus_categories_nobody_opened():
    found = findings.never_opened(
        figures({"menu_shown": 12}, category_opens={"grills": 9, "kids": 1}, menu=MENU)
    )
    assert found["title"] == "2 menu categories nobody opened"
    assert found["severity"] == "warning"  # the menu was shown 10 times or more
    assert "nobody opened Salads, soups." in found["text"]
    assert found["numbers"] == {
        "categories": 2,
        "menuCategories": 4,
        "menuShown": 12,
        "ids": ["salads", "soups"],
    }


def test_never_opened_needs_the_menu_shown_and_cached():
    opens = {"grills": 1}
    assert (
        findings.never_opened(figures({"menu_shown": 0}, category_opens=opens, menu=MENU)) is None
    )
    assert findings.never_opened(figures({"menu_shown": 3}, category_opens=opens)) is None
    one = findings.never_opened(figures({"menu_shown": 3}, menu=[("grills", "Grills")]))
    assert (one["title"], one["severity"]) == ("1 menu category nobody opened", "info")


def test_unrecognised_appears_once_some_text_was_typed_twice():
    texts = [("do you deliver?", 5), ("هل يوجد توصيل؟", 2), ("open now?", 1)]
    found = findings.unrecognised(figures({"unrecognised_texts": 9}, texts=texts))
    assert found["title"] == 'Customers often type "do you deliver?"'
    assert '"do you deliver?" (5), "هل يوجد توصيل؟" (2).' in found["text"]
    assert found["numbers"] == {"texts": 2, "count": 7, "unrecognisedTexts": 9}
    assert findings.unrecognised(figures(texts=[("a", 1), ("b", 1)])) is None


def test_opt_out_rate_compares_with_the_previous_period():
    found = findings.opt_out_rate(
        figures(
            {"conversations": 30, "opt_outs": 2},
            previous={"conversations": 40, "opt_outs": 1},
        )
    )
    assert found["numbers"] == {
        "optOuts": 2,
        "conversations": 30,
        "rate": 6.67,  # 2 × 100 / 30, half up
        "previousOptOuts": 1,
        "previousConversations": 40,
        "previousRate": 2.5,
    }
    assert (found["severity"], found["title"]) == ("warning", "6.67 opt-outs per 100 conversations")
    better = findings.opt_out_rate(
        figures({"conversations": 50, "opt_outs": 1}, previous={"conversations": 10, "opt_outs": 1})
    )
    assert (better["numbers"]["rate"], better["numbers"]["previousRate"]) == (2.0, 10.0)
    assert better["severity"] == "info"


def test_opt_out_rate_without_a_previous_period_or_without_opt_outs():
    first = findings.opt_out_rate(figures({"conversations": 8, "opt_outs": 1}))
    assert first["numbers"]["previousRate"] is None
    assert first["severity"] == "warning"  # 12.5 per 100, nothing to compare with
    assert findings.opt_out_rate(figures({"conversations": 8})) is None
    assert findings.opt_out_rate(figures({"opt_outs": 1})) is None


def test_delivery_failures_say_what_to_do_per_error_code():
    found = findings.delivery_failures(
        figures(
            {"delivery_failures": 6}, error_codes={"21610": 1, "63016": 3, "30008": 1, "63024": 1}
        )
    )
    assert (found["severity"], found["title"]) == ("warning", "6 messages could not be delivered")
    assert found["numbers"] == {
        "failures": 6,
        "byCode": {"63016": 3, "21610": 1, "30008": 1, "63024": 1},
    }
    text = found["text"]
    assert text.index("63016 (3)") < text.index("21610 (1)") < text.index("30008 (1)")
    assert "template is needed outside WhatsApp's 24-hour window" in text
    assert "unsubscribed" in text
    assert "invalid recipient" in text
    assert "30008 (1): unknown error on the phone network" in text  # bot.failure_advice
    assert findings.delivery_failures(figures()) is None


def test_returning_customers_share_of_conversations():
    found = findings.returning_customers(
        figures({"conversations": 8, "returning_customers": 3, "new_customers": 5})
    )
    assert found["title"] == "37.5% of conversations came from returning customers"
    assert found["numbers"] == {"returning": 3, "new": 5, "percent": 37.5}
    assert findings.returning_customers(figures({"conversations": 4, "new_customers": 4})) is None


def test_too_little_data_gives_no_findings():
    assert findings.find(figures({"conversations": 1, "messages_in": 1})) == []


def test_findings_come_in_a_fixed_order():
    found = findings.find(
        figures(
            {"conversations": 10, "new_customers": 10, "opt_outs": 1, "delivery_failures": 1},
            heatmap=heat({(1, 12): 10}),
            error_codes={"63016": 1},
            texts=[("menu pls", 3)],
        )
    )
    assert [f["kind"] for f in found] == [
        "peak_hours",
        "unrecognised",
        "opt_out_rate",
        "delivery_failures",
        "returning_customers",
    ]
