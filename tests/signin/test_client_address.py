"""The client's address: X-Forwarded-For only from trusted proxies."""

import pytest

from signin.client_address import client_address

PROXY = ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", None, PROXY, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", PROXY, "203.0.113.5"),  # not from a proxy: ignored
        ("10.0.0.2", "198.51.100.1", PROXY, "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.9", PROXY, "198.51.100.1"),  # spoofed left
        ("10.0.0.2", "198.51.100.1", (), "10.0.0.2"),  # no trusted proxies: never read
        ("10.0.0.2", "10.0.0.3", PROXY, "10.0.0.3"),  # only proxies: the farthest
        (None, None, (), "unknown"),
    ],
)
def test_the_client_address(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected
