"""Posting webhooks as Twilio does: form-encoded and signed with the account's auth token."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

WEBHOOK_URL = "http://localhost/whatsapp/webhook"
STATUS_URL = "http://localhost/whatsapp/status"
_counter = itertools.count(1)


def new_sid(prefix: str = "SM") -> str:
    """Return a fresh Twilio-shaped SID (34 characters)."""
    return prefix + uuid.uuid4().hex


def inbound_form(
    *, to: str, sender: str, body: str = "hello", sid: str | None = None, **extra: Any
) -> dict[str, str]:
    """Return the form Twilio posts for an inbound WhatsApp message."""
    form = {
        "MessageSid": sid or new_sid(),
        "SmsMessageSid": sid or new_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{to}",
        "Body": body,
        "ProfileName": "Sara",
        "WaId": sender.lstrip("+"),
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    form.update({key: str(value) for key, value in extra.items()})
    return form


def signature(token: str, url: str, form: dict[str, str]) -> str:
    """Return the X-Twilio-Signature of `form` posted to `url`."""
    return str(RequestValidator(token).compute_signature(url, form))


def post_signed(
    client: FlaskClient, token: str, form: dict[str, str], url: str = WEBHOOK_URL
) -> Any:
    """POST `form` to `url` with a valid signature; return the response."""
    path = url.split("localhost", 1)[1]
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature(token, url, form)})
