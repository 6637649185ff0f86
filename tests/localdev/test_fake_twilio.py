"""The Twilio stand-in, exercised with the real `twilio` client."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from localdev.fake_twilio import FakeTwilio

SENDER = "whatsapp:+966500000001"
CUSTOMER = "whatsapp:+966511111111"
WELCOME = "HX" + "0" * 32


class RedirectedHttpClient(TwilioHttpClient):
    """Send every Twilio API call to `base_url`, keeping path and query."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)
        assert self.session is not None
        self.session.mount("http://", HTTPAdapter())

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        redirected = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return super().request(method, redirected, *args, **kwargs)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def connect(fake: FakeTwilio, timeout: float = 2.0, auth_token: str | None = None) -> Client:
    http = RedirectedHttpClient(fake.url, timeout=timeout)
    return Client(fake.account_sid, auth_token or fake.auth_token, http_client=http)


@pytest.fixture
def client(twilio: FakeTwilio) -> Iterator[Client]:
    connected = connect(twilio)
    yield connected
    connected.http_client.session.close()


def send_welcome(client: Client) -> MessageInstance:
    return client.messages.create(
        from_=SENDER,
        to=CUSTOMER,
        content_sid=WELCOME,
        content_variables='{"1":"Demo","2":"Sara"}',
    )


def test_a_content_template_send_is_accepted_and_recorded(
    twilio: FakeTwilio, client: Client
) -> None:
    message = send_welcome(client)

    assert message.sid is not None
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.direction, message.body) == ("queued", "outbound-api", None)
    assert message.date_created is not None
    assert message.account_sid == twilio.account_sid
    [recorded] = twilio.sent()
    assert recorded["ContentSid"] == WELCOME
    assert recorded["ContentVariables"] == '{"1":"Demo","2":"Sara"}'
    assert (recorded["From"], recorded["To"]) == (SENDER, CUSTOMER)
    assert (recorded["sid"], recorded["status_code"]) == (message.sid, 201)


def test_a_text_send_echoes_its_body_and_can_be_fetched_again(
    twilio: FakeTwilio, client: Client
) -> None:
    message = client.messages.create(from_=SENDER, to=CUSTOMER, body="مرحبا Sara")

    assert message.body == "مرحبا Sara"
    assert message.num_segments == "1"
    assert client.messages(message.sid).fetch().to == CUSTOMER
    assert twilio.wait_for(1)[0]["Body"] == "مرحبا Sara"


def test_a_wrong_auth_token_raises_401_with_code_20003(twilio: FakeTwilio) -> None:
    client = connect(twilio, auth_token="wrong")
    try:
        with pytest.raises(TwilioRestException) as raised:
            send_welcome(client)
    finally:
        client.http_client.session.close()

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert twilio.messages[0]["status_code"] == 401
    assert twilio.messages[0]["sid"] is None
    assert twilio.sent() == []


def test_a_send_without_body_or_content_is_refused_with_21619(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(from_=SENDER, to=CUSTOMER)

    assert (raised.value.status, raised.value.code) == (400, 21619)


def test_a_send_without_a_recipient_is_refused_with_21604(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(from_=SENDER, to="", body="hi")

    assert (raised.value.status, raised.value.code) == (400, 21604)


@pytest.mark.parametrize(
    ("status", "code"), [(500, 20500), (429, 20429), (400, 21211), (400, 21610), (400, 63016)]
)
def test_an_injected_failure_surfaces_with_its_status_and_code(
    twilio: FakeTwilio, client: Client, status: int, code: int
) -> None:
    twilio.fail(status=status, code=code, times=1)

    with pytest.raises(TwilioRestException) as raised:
        send_welcome(client)

    assert (raised.value.status, raised.value.code) == (status, code)
    assert twilio.messages[0]["error_code"] == code
    assert send_welcome(client).sid.startswith("SM")
    assert [m["status_code"] for m in twilio.messages] == [status, 201]


def test_an_injected_429_carries_its_retry_after_header(twilio: FakeTwilio) -> None:
    twilio.fail(status=429, code=20429, headers={"Retry-After": "1"})

    with requests.Session() as session:
        response = session.post(
            f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
            data={"To": CUSTOMER, "From": SENDER, "Body": "hi"},
            auth=(twilio.account_sid, twilio.auth_token),
        )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["code"] == 20429


def test_a_held_send_times_out_the_client_but_is_recorded_as_received(
    twilio: FakeTwilio,
) -> None:
    twilio.timeout(10, times=1)
    client = connect(twilio, timeout=0.5)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            send_welcome(client)
        [held] = twilio.messages
        again = send_welcome(client)
    finally:
        client.http_client.session.close()

    assert held["timed_out"] is True
    assert held["status_code"] is None
    assert held["sid"] is not None
    assert held["ContentSid"] == WELCOME
    assert [m["sid"] for m in twilio.sent()] == [again.sid]


def test_a_dropped_send_raises_a_connection_error(twilio: FakeTwilio, client: Client) -> None:
    twilio.drop(times=1)

    with pytest.raises(requests.exceptions.ConnectionError):
        send_welcome(client)

    assert twilio.messages[0]["dropped"] is True
    assert twilio.messages[0]["sid"] is None
    assert send_welcome(client).sid.startswith("SM")


def test_faults_apply_to_sends_only_unless_a_path_is_given(
    twilio: FakeTwilio, client: Client
) -> None:
    twilio.fail(status=503, code=20503)

    assert client.content.v1.contents(WELCOME).fetch().sid == WELCOME
    twilio.clear_faults()
    twilio.fail(status=503, code=20503, path_regex="/v1/Content/")
    with pytest.raises(TwilioRestException) as raised:
        client.content.v1.contents(WELCOME).fetch()
    assert raised.value.status == 503
    assert send_welcome(client).sid.startswith("SM")


def test_any_hx_content_template_can_be_fetched(twilio: FakeTwilio, client: Client) -> None:
    content = client.content.v1.contents(WELCOME).fetch()

    assert (content.sid, content.account_sid, content.language) == (
        WELCOME,
        twilio.account_sid,
        "en",
    )
    assert content.variables == {"1": "restaurant_name", "2": "customer_name"}
    quick_reply = content.types["twilio/quick-reply"]
    assert [a["id"] for a in quick_reply["actions"]] == ["MENU", "BRANCHES"]
    assert content.date_created is not None


def test_a_registered_content_template_replaces_the_default_fields(
    twilio: FakeTwilio, client: Client
) -> None:
    sid = "HX" + "a" * 32
    twilio.content_templates[sid] = {"friendly_name": "menu_list", "language": "ar"}

    content = client.content.v1.contents(sid).fetch()

    assert (content.friendly_name, content.language) == ("menu_list", "ar")


def test_a_missing_content_template_raises_404(twilio: FakeTwilio, client: Client) -> None:
    missing = "HX" + "f" * 32
    twilio.missing_content.add(missing)

    for sid in (missing, "XX" + "0" * 32):
        with pytest.raises(TwilioRestException) as raised:
            client.content.v1.contents(sid).fetch()
        assert (raised.value.status, raised.value.code) == (404, 20404)


def test_wait_for_returns_once_a_send_from_another_thread_arrives(
    twilio: FakeTwilio, client: Client
) -> None:
    sender = threading.Thread(target=send_welcome, args=(client,))
    sender.start()
    try:
        sent = twilio.wait_for(1, timeout=10)
    finally:
        sender.join()

    assert sent[0]["ContentSid"] == WELCOME


def test_wait_for_raises_a_clear_assertion_when_too_few_sends_arrive(
    twilio: FakeTwilio, client: Client
) -> None:
    send_welcome(client)

    with pytest.raises(AssertionError, match="expected at least 2 accepted sends"):
        twilio.wait_for(2, timeout=0.2)


def test_every_request_is_recorded_and_clear_forgets_them(
    twilio: FakeTwilio, client: Client
) -> None:
    send_welcome(client)
    client.content.v1.contents(WELCOME).fetch()

    post, get = twilio.requests
    assert (post.method, get.method) == ("POST", "GET")
    assert post.form["To"] == CUSTOMER
    assert post.headers["Authorization"].startswith("Basic ")
    assert get.path == f"/v1/Content/{WELCOME}"
    twilio.clear()
    assert (len(twilio.requests), len(twilio.messages)) == (0, 0)
