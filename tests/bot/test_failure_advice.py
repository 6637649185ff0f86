"""What a failed message's code means for an owner: one table (`bot.failure_advice`)."""

import pytest

from bot import failure_advice
from bot.failed_messages import masked
from bot.send_errors import PERMANENT_CODES, RATE_LIMITED_CODES, TRANSPORT_CODES
from insights import findings
from insights.findings import Figures

OWNER_CODES = [
    "63016",
    "21610",
    "63024",
    "63003",
    "21211",
    "21614",
    "63018",
    "20429",
    "30003",
    "30005",
    "30006",
    "30007",
    "30008",
    "63032",
]


@pytest.mark.parametrize("code", OWNER_CODES)
def test_every_code_an_owner_meets_is_explained_with_what_to_do(code):
    advice = failure_advice.advice_for(code)
    assert advice.known
    assert all((advice.name, advice.meaning, advice.action, advice.summary))
    assert advice.reference == f"www.twilio.com/docs/api/errors/{code}"


def test_the_codes_the_bot_classifies_are_explained_too():
    codes = {str(c) for c in PERMANENT_CODES | RATE_LIMITED_CODES} | set(TRANSPORT_CODES)
    assert [c for c in sorted(codes) if not failure_advice.advice_for(c).known] == []


def test_the_advice_names_what_fixes_it():
    assert "CONTENT_SID_OWNER_ALERT" in failure_advice.advice_for("63016").action
    assert "START" in failure_advice.advice_for("21610").action
    assert "tries again by itself" in failure_advice.advice_for("63018").action


def test_an_unknown_code_points_to_twilios_error_dictionary():
    advice = failure_advice.advice_for("12345")
    assert not advice.known
    assert "Look it up in Twilio's error dictionary" in advice.action
    assert advice.reference == "www.twilio.com/docs/api/errors/12345"


def test_our_own_codes_and_http_statuses_have_no_twilio_page():
    for code in ("timeout", "connection", "opted_out", "", None, "400"):
        assert failure_advice.advice_for(code).reference is None
    assert failure_advice.advice_for(None).name == "No reason given"
    assert failure_advice.advice_for("20503").name == "Twilio was having problems"
    assert failure_advice.advice_for("503").known


def test_the_insights_finding_reads_the_same_advice():
    figures = Figures(
        totals={"delivery_failures": 2},
        previous={},
        heatmap=[],
        funnel={},
        category_opens={},
        error_codes={"63032": 1, "21614": 1},
        texts=[],
    )
    text = findings.delivery_failures(figures)["text"]
    assert f"21614 (1): {failure_advice.summary_of('21614')}" in text
    assert f"63032 (1): {failure_advice.summary_of('63032')}" in text


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("+966512345678", "+9665…78"),
        ("447700900123", "44770…23"),
        ("+96650", "…"),
        (None, "a former customer"),
    ],
)
def test_a_customer_number_is_shown_shortened(address, shown):
    assert masked(address) == shown
