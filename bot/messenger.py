"""Sending WhatsApp messages: through Twilio, or logged in console mode.

One `TwilioMessenger` per process holds one pooled `twilio.rest.Client`; it never retries
(the outbox and the delivery actor decide that, see `bot.send_errors`).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from store.settings import Settings

logger = logging.getLogger(__name__)

WHATSAPP = "whatsapp:"


@dataclass(frozen=True)
class Outgoing:
    """One message to send: plain text (`body`) or a template (`content_sid` + variables)."""

    from_number: str  # E.164, the restaurant's number
    to_address: str  # the customer's address (phone or WhatsApp id), without "whatsapp:"
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


@dataclass(frozen=True)
class Sent:
    """Twilio's answer to an accepted send."""

    sid: str
    status: str


class Messenger(Protocol):
    """Anything that can send an `Outgoing` message."""

    def send(self, message: Outgoing) -> Sent: ...

    def fetch_content(self, content_sid: str) -> dict[str, Any]: ...


class _RedirectingHttpClient(TwilioHttpClient):
    """Sends every Twilio API call (api., content. …) to one base URL, path and query kept."""

    def __init__(self, base_url: str | None, timeout: float, pool_size: int) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        assert self.session is not None
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.base = urlsplit(base_url) if base_url else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.base is not None:
            parts = urlsplit(url)
            url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


class TwilioMessenger:
    """Sends through Twilio's Messages API; fetches templates from its Content API.

    Parameters:
      settings(Settings): Account SID, auth token, optional base URL replacing Twilio's hosts.
      timeout_s(float): Per-request timeout; a timed-out send may still have reached Twilio.
    """

    def __init__(self, settings: Settings, timeout_s: float, pool_size: int = 32) -> None:
        self.status_callback = (
            settings.public_base_url.rstrip("/") + "/whatsapp/status"
            if settings.public_base_url
            else None
        )
        http_client = _RedirectingHttpClient(settings.twilio_api_base_url, timeout_s, pool_size)
        self.client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )

    def send(self, message: Outgoing) -> Sent:
        """Send `message`; raises TwilioRestException or a requests error (see send_errors)."""
        options: dict[str, Any] = {
            "from_": WHATSAPP + message.from_number,
            "to": WHATSAPP + message.to_address,
        }
        if message.content_sid:
            options["content_sid"] = message.content_sid
            options["content_variables"] = json.dumps(
                message.content_variables or {}, ensure_ascii=False
            )
        else:
            options["body"] = message.body
        if self.status_callback:
            options["status_callback"] = self.status_callback
        created = self.client.messages.create(**options)
        return Sent(sid=str(created.sid), status=str(created.status or "queued"))

    def fetch_content(self, content_sid: str) -> dict[str, Any]:
        """Return the template `content_sid` from the Content API (`GET /v1/Content/{sid}`)."""
        content = self.client.content.v1.contents(content_sid).fetch()
        return {
            "sid": content.sid,
            "friendly_name": content.friendly_name,
            "language": content.language,
            "variables": content.variables,
            "types": content.types,
        }


class ConsoleMessenger:
    """Console mode (no Twilio account): logs each message and reports it `simulated`."""

    def send(self, message: Outgoing) -> Sent:
        what = (
            f"template {message.content_sid} {json.dumps(message.content_variables or {})}"
            if message.content_sid
            else repr(message.body)
        )
        logger.info(
            "console mode: to whatsapp:%s from whatsapp:%s: %s",
            message.to_address,
            message.from_number,
            what,
        )
        return Sent(sid="SM" + uuid.uuid4().hex, status="simulated")

    def fetch_content(self, content_sid: str) -> dict[str, Any]:
        """Return a placeholder: there is no Content API to ask in console mode."""
        return {"sid": content_sid, "friendly_name": None, "types": {}, "variables": {}}


class MeteredMessenger:
    """Counts every send by result and Twilio error code (`restaurant_bot_twilio_sends`)."""

    def __init__(self, inner: Messenger) -> None:
        self.inner = inner

    def send(self, message: Outgoing) -> Sent:
        """Send through the inner messenger, counting the outcome."""
        from bot.send_errors import classify
        from store.metrics import TWILIO_SENDS

        try:
            sent = self.inner.send(message)
        except Exception as error:
            try:
                code = classify(error).code
            except Exception:  # not a send error at all: classify re-raises those
                code = "other"
            TWILIO_SENDS.labels("failed", code).inc()
            raise
        TWILIO_SENDS.labels("sent", "").inc()
        return sent

    def fetch_content(self, content_sid: str) -> dict[str, Any]:
        """Fetch through the inner messenger."""
        return self.inner.fetch_content(content_sid)


def make_messenger(settings: Settings, timeout_s: float) -> Messenger:
    """Return the Twilio messenger, or the console one when no account is configured."""
    if settings.console_mode:
        return MeteredMessenger(ConsoleMessenger())
    return MeteredMessenger(TwilioMessenger(settings, timeout_s))
