"""E-mail deliveries through `SMTP_URL` (SPEC §15).

`smtp://[user:pass@]host[:port]` (default port 25) upgrades with STARTTLS when the server
offers it; `smtps://…` (default 465) speaks TLS from the start. A 5xx refusal of the
recipient (or of the message) is permanent; 4xx answers, timeouts and connection errors
are retried. Without `SMTP_URL` (console mode) the e-mail is logged instead of sent.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from alerts.failures import DeliveryFailed, DeliveryRefused

logger = logging.getLogger(__name__)
TIMEOUT_S = 5.0


def compose(sender: str, recipient: str, event: dict[str, Any]) -> EmailMessage:
    """Return the e-mail for `event`: a one-line subject and the event as JSON."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject(event)
    message["X-RestaurantBot-Event-Id"] = str(event["id"])
    message.set_content(f"{subject(event)}\n\n{json.dumps(event, ensure_ascii=False, indent=2)}\n")
    return message


def subject(event: dict[str, Any]) -> str:
    """Return a human subject line for `event`."""
    data = event.get("data") or {}
    restaurant = event.get("restaurantId") or "restaurant-bot"
    kind = event.get("type")
    if kind == "usage.threshold_reached":
        what = (
            "daily messages" if data.get("metric") == "daily_messages" else "monthly conversations"
        )
        used = f"{data.get('used')}/{data.get('limit')}"
        return f"[{restaurant}] {data.get('threshold')}% of {what} used ({used})"
    if kind == "usage.pace_exceeds":
        on = data.get("projectedDate")
        return f"[{restaurant}] at this pace the monthly limit is reached on {on}"
    if kind == "import.completed":
        return f"[{restaurant}] order import done: {data.get('orders')} orders"
    if kind == "import.failed":
        return f"[{restaurant}] order import failed"
    return f"[{restaurant}] {kind}"


class EmailSender:
    """Sends events by e-mail through one SMTP server (a connection per e-mail)."""

    def __init__(self, smtp_url: str | None, sender: str) -> None:
        self.smtp_url = smtp_url
        self.sender = sender

    def send(self, recipient: str, event: dict[str, Any]) -> None:
        """Send `event` to `recipient`.

        Raises:
          DeliveryRefused: The server refused the recipient or the message with a 5xx.
          DeliveryFailed: A 4xx answer, a timeout, a connection error.
        """
        message = compose(self.sender, recipient, event)
        if not self.smtp_url:
            logger.info("console mode: e-mail to %s: %s", recipient, message["Subject"])
            return
        try:
            with self._connect() as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            text = "; ".join(f"{c} {_text(m)}" for c, m in error.recipients.values())
            if all(code >= 500 for code in codes):
                raise DeliveryRefused(f"SMTP refused the recipient: {text}") from None
            raise DeliveryFailed(f"SMTP deferred the recipient: {text}") from None
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code} {_text(error.smtp_error)}"
            if error.smtp_code >= 500:
                raise DeliveryRefused(text) from None
            raise DeliveryFailed(text) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"SMTP: {type(error).__name__}: {error}") from None

    def _connect(self) -> smtplib.SMTP:
        assert self.smtp_url is not None
        parts = urlsplit(self.smtp_url)
        host = parts.hostname or "localhost"
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if parts.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(host, parts.port or 25, timeout=TIMEOUT_S)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        return smtp


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
