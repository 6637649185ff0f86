"""Signed webhook deliveries (SPEC §15): `POST` the event's JSON with
`X-RestaurantBot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

One pooled httpx client per process; 5 s timeout, redirects not followed; the host name is
resolved and checked at every delivery and the request goes to the checked address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from alerts.addresses import RefusedAddress, resolve_destination
from alerts.failures import DeliveryFailed, DeliveryRefused

SIGNATURE_HEADER = "X-RestaurantBot-Signature"
TIMEOUT_S = 5.0
USER_AGENT = "restaurant-bot-alerts/1.0"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def encode_event(event: dict[str, Any]) -> bytes:
    """Return the raw body of an event (compact JSON, UTF-8)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookSender:
    """Posts signed events to webhook URLs.

    Parameters:
      allow_private(bool): `ALERT_WEBHOOK_ALLOW_PRIVATE` — skip the address checks.
      timeout_s(float): Per network step (connect, send, wait for the answer).
    """

    def __init__(self, *, allow_private: bool, timeout_s: float = TIMEOUT_S) -> None:
        self.allow_private = allow_private
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": USER_AGENT},
        )

    def post(self, url: str, secret: str, event: dict[str, Any]) -> int:
        """Deliver `event` to `url`; return the HTTP status (2xx).

        Raises:
          DeliveryRefused: The host's address is not allowed.
          DeliveryFailed: Any other answer, a timeout, a connection error, a DNS failure.
        """
        try:
            destination = resolve_destination(url, allow_private=self.allow_private)
        except RefusedAddress as error:
            raise DeliveryRefused(str(error)) from None
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve the webhook's host: {error}") from None
        body = encode_event(event)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        }
        extensions: dict[str, Any] = {}
        target = url
        if destination.address is not None:
            # Connect to the address just checked; the name still goes in Host and SNI.
            parts = urlsplit(url)
            ip = destination.address
            netloc = f"[{ip}]" if ":" in ip else ip
            if parts.port:
                netloc += f":{parts.port}"
            target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            headers["Host"] = parts.netloc.rpartition("@")[2]
            if parts.scheme == "https":
                extensions["sni_hostname"] = destination.host
        try:
            with self.client.stream(
                "POST", target, content=body, headers=headers, extensions=extensions
            ) as response:
                status = response.status_code
        except httpx.TimeoutException:
            raise DeliveryFailed(f"timed out after {TIMEOUT_S:.0f} s") from None
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")
        return status

    def close(self) -> None:
        self.client.close()
