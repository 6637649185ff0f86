"""Browsing the menu and the branches, in English and Arabic (SPEC §6)."""

import time

import pytest
from sqlalchemy import select

from bot import flow
from store.models import Conversation, Message
from store.timeutil import iso_z, utcnow
from store.usage import restaurant_usage
from tests.support import factories
from tests.support.twilio import inbound_form, post_signed
from tests.support.waiting import wait_until

CUSTOMER = "+966511111111"


@pytest.fixture
def restaurant(live_runtime, settings):
    with live_runtime.transaction() as session:
        return factories.restaurant(session, settings)


def say(client, settings, restaurant, text, **extra):
    form = inbound_form(to=restaurant.whatsapp_number, sender=CUSTOMER, body=text, **extra)
    response = post_signed(client, settings.twilio_auth_token, form)
    assert response.status_code == 200
    return form


def bodies(fake_twilio):
    return [m.get("Body") for m in fake_twilio.sent()]


def welcomed_on_a_cold_cache(client, live_runtime, settings, restaurant, fake_twilio):
    """The customer's conversation is open (welcome sent) and the catalog is not cached."""
    say(client, settings, restaurant, "hi")
    fake_twilio.wait_for(1)
    live_runtime.catalog.purge("demo-merchant")


def warm(live_runtime):
    """Load the demo merchant's catalog into the cache, as a bootstrap would."""
    live_runtime.catalog.categories("demo-merchant")
    live_runtime.catalog.branches("demo-merchant")


def test_menu_on_a_warm_cache_is_answered_inside_the_request(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    fake_catalog.clear_requests()
    say(live_client, settings, restaurant, "menu")
    reply = bodies(fake_twilio)[-1]
    lines = reply.splitlines()
    numbered = [line for line in lines if line[:1].isdigit()]
    assert len(numbered) == 12
    assert numbered[0].startswith("1. ")
    assert numbered[11].startswith("12. ")
    assert "مشويات" in reply
    assert fake_catalog.request_count() == 0  # answered from cache


def test_a_category_number_lists_its_items_with_prices(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "menu")
    say(live_client, settings, restaurant, "1")
    fake_twilio.wait_for(3)
    items = bodies(fake_twilio)[2]
    categories = live_runtime.catalog.categories("demo-merchant")
    assert items.splitlines()[0] == categories[0]["name"]
    assert " SAR" in items
    for line in items.splitlines()[1:]:
        price = line.rsplit(" - ", 1)[1]
        amount, currency = price.split(" ")
        assert currency == "SAR"
        assert len(amount.split(".")[1]) == 2


def test_menu_then_a_number_back_to_back_on_a_cold_cache_lists_that_category(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    """A phone back online delivers queued messages within milliseconds."""
    welcomed_on_a_cold_cache(live_client, live_runtime, settings, restaurant, fake_twilio)
    fake_catalog.latency = 0.2
    say(live_client, settings, restaurant, "menu")
    say(live_client, settings, restaurant, "3")
    sent = fake_twilio.wait_for(3, timeout=20)
    menu, items = sent[1]["Body"], sent[2]["Body"]
    assert menu.startswith("Our menu")
    categories = live_runtime.catalog.categories("demo-merchant")
    assert items.splitlines()[0] == categories[2]["name"]
    assert "Unknown option" not in items


def test_arabic_words_and_arabic_indic_digits_work(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    say(live_client, settings, restaurant, "مرحبا")
    warm(live_runtime)
    say(live_client, settings, restaurant, "القائمة")
    say(live_client, settings, restaurant, "١٢")
    sent = fake_twilio.wait_for(3)
    categories = live_runtime.catalog.categories("demo-merchant")
    assert sent[2]["Body"].splitlines()[0] == categories[11]["name"]


def test_branches_and_picking_one_remembers_it_for_the_conversation(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "الفروع")
    say(live_client, settings, restaurant, "2")
    listing, chosen = bodies(fake_twilio)[1:3]
    assert len([line for line in listing.splitlines() if line[:1].isdigit()]) == 3
    branches = live_runtime.catalog.branches("demo-merchant")
    assert chosen.startswith(branches[1]["name"])
    with live_runtime.transaction() as session:
        assert session.scalars(select(Conversation.branch_id)).one() == str(branches[1]["id"])


def test_the_branch_button_lists_the_branches(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "", ButtonPayload="BRANCHES")
    assert bodies(fake_twilio)[1].startswith("Our branches")


def test_a_number_out_of_range_says_unknown_option_and_shows_the_list_again(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "menu")
    say(live_client, settings, restaurant, "99")
    reply = bodies(fake_twilio)[2]
    assert reply.startswith("Unknown option")
    assert "12. " in reply


def test_without_a_list_shown_1_means_menu_and_2_means_branches(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "2")
    assert bodies(fake_twilio)[1].startswith("Our branches")


@pytest.mark.parametrize("two", ["2", "٢"], ids=["ascii", "arabic-indic"])
def test_replying_2_after_help_lists_the_branches_even_after_a_branch_was_chosen(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, two
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "branches")
    say(live_client, settings, restaurant, two)
    say(live_client, settings, restaurant, "help")
    say(live_client, settings, restaurant, two)
    listing, chosen, help_list, answer = bodies(fake_twilio)[1:5]
    branches = live_runtime.catalog.branches("demo-merchant")
    assert chosen.startswith(branches[1]["name"])
    assert "2. Branches" in help_list
    assert answer == listing
    assert answer.startswith("Our branches")


def test_replying_1_after_help_lists_the_menu_even_while_the_branch_list_was_shown(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "branches")
    say(live_client, settings, restaurant, "what is this")  # anything else shows the help list
    say(live_client, settings, restaurant, "1")
    assert bodies(fake_twilio)[3].startswith("Our menu")


def test_a_number_out_of_range_after_help_says_unknown_option_and_shows_help_again(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog
):
    say(live_client, settings, restaurant, "hi")
    warm(live_runtime)
    say(live_client, settings, restaurant, "branches")
    say(live_client, settings, restaurant, "help")
    say(live_client, settings, restaurant, "3")
    reply = bodies(fake_twilio)[3]
    assert reply.startswith("Unknown option")
    assert "1. Menu" in reply
    assert "2. Branches" in reply
    assert "Our branches" not in reply
    say(live_client, settings, restaurant, "2")  # the help list is still the last one shown
    assert bodies(fake_twilio)[4].startswith("Our branches")


def test_the_catalog_being_down_ends_with_an_apology_not_silence(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    say(live_client, settings, restaurant, "hi")
    fake_twilio.wait_for(1)
    live_runtime.catalog.purge("demo-merchant")
    fake_catalog.fail(r"/categories$", status=503)
    say(live_client, settings, restaurant, "menu")
    sent = fake_twilio.wait_for(2, timeout=30)
    assert "not available right now" in sent[1]["Body"]
    with live_runtime.transaction() as session:
        pending = session.scalars(select(Conversation.pending_replies)).one()
        waiting = session.scalars(select(Message).where(Message.reply_intent.is_not(None))).all()
    assert pending == 0
    assert waiting == []


def test_a_long_reply_is_split_at_line_breaks_under_1600_characters():
    text = "\n".join(f"{n}. " + "item name " * 8 for n in range(1, 80))
    parts = flow.split(text)
    assert len(parts) > 1
    assert all(len(part) <= 1600 for part in parts)
    assert "\n".join(parts) == text


def test_words_are_read_in_any_case_and_with_arabic_indic_digits():
    assert flow.read_intent("MENU") == flow.Intent("menu")
    assert flow.read_intent("  Menu!  ") == flow.Intent("menu")
    assert flow.read_intent("منيو") == flow.Intent("menu")
    assert flow.read_intent("٣") == flow.Intent("number", 3)
    assert flow.read_intent("۱۲") == flow.Intent("number", 12)
    assert flow.read_intent("unsubscribe") == flow.Intent("stop")
    assert flow.read_intent("what is this") == flow.Intent("help")
    assert flow.read_intent("", "MENU") == flow.Intent("menu")


def test_the_welcome_is_followed_by_items_within_a_bound(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    # A menu asked right after the welcome, before the bootstrap finished, still arrives.
    say(live_client, settings, restaurant, "hi")
    say(live_client, settings, restaurant, "menu")
    wait_until(lambda: len(fake_twilio.sent()) >= 2, timeout=20)
    assert fake_twilio.sent()[1]["Body"].startswith("Our menu")


def test_a_reply_the_worker_sends_later_is_the_restaurants_last_activity(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    welcomed_on_a_cold_cache(live_client, live_runtime, settings, restaurant, fake_twilio)
    fake_catalog.latency = 0.3
    say(live_client, settings, restaurant, "menu")
    fake_twilio.wait_for(2, timeout=20)
    with live_runtime.transaction() as session:
        reply_at = session.scalars(
            select(Message.created_at)
            .where(Message.direction == "outbound")
            .order_by(Message.id.desc())
            .limit(1)
        ).one()
        usage = restaurant_usage(session, settings, restaurant.id, now=utcnow())
    assert usage is not None
    assert iso_z(usage.last_activity) == iso_z(reply_at)


def test_the_next_message_is_answered_while_a_worker_still_waits_on_the_catalog(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker
):
    welcomed_on_a_cold_cache(live_client, live_runtime, settings, restaurant, fake_twilio)
    fake_catalog.clear_requests()
    fake_catalog.latency = 2.0
    say(live_client, settings, restaurant, "menu")  # deferred: a worker fetches the menu
    assert wait_until(lambda: fake_catalog.request_count() > 0, timeout=10)
    say(live_client, settings, restaurant, "2")
    # The webhook answered while the catalog still held the worker's request: it did not
    # wait on the customer's lock for the catalog (nothing but the welcome is sent yet).
    assert len(fake_twilio.sent()) == 1
    sent = fake_twilio.wait_for(3, timeout=30)
    assert sent[1]["Body"].startswith("Our menu")
    categories = live_runtime.catalog.categories("demo-merchant")
    assert sent[2]["Body"].splitlines()[0] == categories[1]["name"]


@pytest.mark.parametrize("after", [["STOP"], ["STOP", "START"]], ids=["stop", "stop-then-start"])
def test_a_customer_who_says_stop_gets_none_of_the_replies_still_waiting(
    live_client, live_runtime, settings, restaurant, fake_twilio, fake_catalog, worker, after
):
    from store.models import Job

    welcomed_on_a_cold_cache(live_client, live_runtime, settings, restaurant, fake_twilio)
    fake_catalog.latency = 1.0
    say(live_client, settings, restaurant, "menu")  # deferred: a worker fetches the menu
    for text in after:
        say(live_client, settings, restaurant, text)
    sent = fake_twilio.wait_for(1 + len(after))
    assert sent[1]["Body"].startswith("You will no longer receive messages")

    def deferred_job_done():
        with live_runtime.transaction() as session:
            job = session.scalars(select(Job).where(Job.actor == "send_deferred_replies")).one()
            return job.status == "succeeded"

    assert wait_until(deferred_job_done, timeout=30)
    time.sleep(0.3)  # a reply sent by that job would have arrived by now
    assert len(fake_twilio.sent()) == 1 + len(after)
    assert not any(m["Body"].startswith("Our menu") for m in fake_twilio.sent())
