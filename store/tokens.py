"""Secret tokens: personal access tokens (`rbpat_…`) and admin API keys (`rbkey_…`).

A token is a type prefix, 30 random base62 characters (178 bits from `secrets`) and a
6-character CRC32 checksum, so a mistyped token is rejected before any database lookup
(the scheme GitHub uses for its tokens). Only the SHA-256 of the whole token and a short
display prefix are stored; the token itself is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
DISPLAY_LENGTH = 8

PAT_TYPE = "rbpat"
API_KEY_TYPE = "rbkey"


@dataclass(frozen=True)
class NewToken:
    """A freshly minted token: the secret to show once, and what is stored."""

    secret: str
    prefix: str
    token_hash: str


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def hash_token(secret: str) -> str:
    """Return the hex SHA-256 of a token, the only form in which it is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mint(kind: str) -> NewToken:
    """Create a new token of `kind` (`PAT_TYPE` or `API_KEY_TYPE`)."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    body = f"{kind}_{random_part}"
    secret = body + _checksum(body)
    return NewToken(
        secret=secret,
        prefix=display_prefix(secret),
        token_hash=hash_token(secret),
    )


def display_prefix(secret: str) -> str:
    """Return the stored display prefix of a well-formed token (`rbpat_` + 8 characters)."""
    kind, _, rest = secret.partition("_")
    return f"{kind}_{rest[:DISPLAY_LENGTH]}"


def is_well_formed(secret: str, kind: str) -> bool:
    """Return True when `secret` has `kind`'s shape and a valid checksum (no I/O)."""
    head = f"{kind}_"
    if len(secret) != len(head) + RANDOM_LENGTH + CHECKSUM_LENGTH or not secret.startswith(head):
        return False
    if any(char not in ALPHABET for char in secret[len(head) :]):
        return False
    body, checksum = secret[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)
