"""The client's address: the peer's, or what a trusted proxy says in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """Return the address a request came from.

    `X-Forwarded-For` is believed only when the peer is one of the `trusted` proxies
    (addresses or networks); then its hops are read from the right, skipping trusted
    proxies, and the first other one is the client. Anyone can send the header, so from
    an untrusted peer it means nothing.
    """
    peer = peer or "unknown"
    if not trusted or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _is_trusted(address: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in trusted)
