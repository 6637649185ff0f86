"""Requests whose database connections the server closed (a failover, a restarted PgBouncer):
run once more on a fresh connection, so Twilio's webhook is not lost (issue 11)."""

import logging

import pytest
from sqlalchemy import func, select

from bot import create_app
from store.models import Message
from tests.support import factories
from tests.support.databases import backend_name
from tests.support.pg_connections import (
    every_new_connection_terminated,
    fill_pool,
    runtime_of_its_own,
    terminate_backends,
)
from tests.support.twilio import inbound_form, post_signed
from tests.usage_api.conftest import owner_headers

pytestmark = pytest.mark.skipif(
    backend_name() != "postgresql",
    reason="needs a database server that closes connections (pg_terminate_backend); "
    "SQLite has none",
)

WELCOME_SID = "HX" + "5" * 32
ONCE_MORE = "running it once more on a fresh connection"


@pytest.fixture
def pool_runtime(settings, engine):
    with runtime_of_its_own(settings, engine) as runtime:
        yield runtime


@pytest.fixture
def client(pool_runtime):
    app = create_app(runtime=pool_runtime)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def restaurant(pool_runtime, settings):
    with pool_runtime.transaction() as session:
        return factories.restaurant(session, settings, welcome_content_sid=WELCOME_SID)


def stored(runtime, sid):
    with runtime.read_transaction() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.sid == sid))


def welcomes_to(twilio, customer):
    return [m for m in twilio.sent() if m.get("ContentSid") and m["To"].endswith(customer)]


@pytest.mark.parametrize("tenant_cached", [True, False], ids=["tenant cached", "tenant not cached"])
def test_a_webhook_whose_connections_the_server_closed_is_stored_and_welcomed_once(
    client, pool_runtime, settings, restaurant, fake_twilio, caplog, tenant_cached
):
    # A first customer's message fills the pool (and, maybe, the tenant cache).
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000001")
    assert post_signed(client, settings.twilio_auth_token, form).status_code == 200
    if not tenant_cached:
        pool_runtime.tenants.forget()
    fill_pool(pool_runtime.engine, 3)
    assert terminate_backends(pool_runtime.engine) >= 3

    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000002")
    with caplog.at_level(logging.WARNING):
        response = post_signed(client, settings.twilio_auth_token, form)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored(pool_runtime, form["MessageSid"]) == 1
    assert len(welcomes_to(fake_twilio, "+966500000002")) == 1
    [line] = [r.getMessage() for r in caplog.records if ONCE_MORE in r.getMessage()]
    assert line.startswith("POST /whatsapp/webhook: the database had closed its connection")


def test_an_api_read_whose_connections_the_server_closed_answers_200(
    client, pool_runtime, settings, restaurant, caplog
):
    with pool_runtime.transaction() as session:
        headers = owner_headers(session, restaurant.id)
    assert client.get("/api/usage", headers=headers).status_code == 200
    fill_pool(pool_runtime.engine, 3)
    assert terminate_backends(pool_runtime.engine) >= 3

    with caplog.at_level(logging.WARNING):
        response = client.get("/api/usage", headers=headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["restaurantId"] == restaurant.id
    assert any(ONCE_MORE in r.getMessage() for r in caplog.records)


def test_a_second_closed_connection_in_a_row_answers_503_and_stores_nothing(
    client, pool_runtime, settings, restaurant, fake_twilio
):
    fill_pool(pool_runtime.engine, 2)
    assert terminate_backends(pool_runtime.engine) >= 2
    form = inbound_form(to=restaurant.whatsapp_number, sender="+966500000003")

    with every_new_connection_terminated(pool_runtime.engine):
        response = post_signed(client, settings.twilio_auth_token, form)

    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"] == "5"
    assert stored(pool_runtime, form["MessageSid"]) == 0
    assert fake_twilio.sent() == []
