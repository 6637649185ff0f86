"""Channel targets and the SSRF rules of webhook URLs (SPEC §15).

A webhook may only reach globally routable addresses (`ipaddress`'s `is_global`) unless
`ALERT_WEBHOOK_ALLOW_PRIVATE=1`. A literal address is checked when the channel is
created; a host name is resolved and checked at every delivery (DNS can change), and the
request then goes to the address that was checked, so a second lookup cannot swap it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from alerts.rules import InvalidAlertInput

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Deliberately plain: one @, no spaces or angle brackets, a dotted domain.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")
MAX_URL = 2048

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(Exception):
    """The webhook's host is (or resolves to) an address we may not call."""


def is_allowed(address: IpAddress) -> bool:
    """Return True for a globally routable address (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IpAddress | None:
    """Return `host` as an IP address when it is one (brackets of IPv6 removed)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """Return `url` if it may be a webhook channel's target.

    Raises:
      InvalidAlertInput: Not http(s), no host, or a literal address (or `localhost`) that is
        not globally routable.
    """
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidAlertInput(f"target: expected an http(s) URL of at most {MAX_URL} characters")
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidAlertInput("target: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidAlertInput("target: a webhook must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidAlertInput("target: credentials in a webhook URL are not allowed")
    if port == 0:
        raise InvalidAlertInput("target: port 0 is not a valid port")
    host = parts.hostname
    if not allow_private:
        address = literal_address(host)
        if address is not None and not is_allowed(address):
            raise InvalidAlertInput(
                f"target: {host} is not a globally routable address (loopback, private,"
                " link-local and multicast addresses are refused)"
            )
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise InvalidAlertInput("target: localhost is not a globally routable address")
    return url


def check_email(address: object) -> str:
    """Return `address` if it is an e-mail address, else raise InvalidAlertInput."""
    if not isinstance(address, str) or len(address) > 254 or not EMAIL.match(address.strip()):
        raise InvalidAlertInput("target: not an e-mail address (e.g. owner@example.com)")
    return address.strip()


def check_number(number: object) -> str:
    """Return `number` if it is E.164, else raise InvalidAlertInput."""
    if not isinstance(number, str) or not E164.match(number.strip()):
        raise InvalidAlertInput("target: not an E.164 number (e.g. +966500000001)")
    return number.strip()


@dataclass(frozen=True)
class Destination:
    """Where a webhook delivery connects: the checked address, and the name it stands for."""

    url: str
    address: str | None  # None: connect by name (private addresses allowed)
    host: str


def resolve_destination(url: str, *, allow_private: bool) -> Destination:
    """Resolve the webhook's host now and check every address it has.

    Raises:
      RefusedAddress: An address is not globally routable (the delivery fails for good).
      OSError: The name does not resolve (retried: DNS may come back).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if allow_private:
        return Destination(url, None, host)
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = [str(a) for a in addresses if not is_allowed(a)]
    if refused or not addresses:
        raise RefusedAddress(f"{host} resolves to {', '.join(refused) or 'nothing'}: refused")
    return Destination(url, str(addresses[0]), host)
