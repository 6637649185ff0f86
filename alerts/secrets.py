"""Channel secrets at rest: Fernet tokens under `SECRETS_KEY` (SPEC §15).

`SECRETS_KEY` is a comma-separated list of Fernet keys: the first encrypts, every one
decrypts (MultiFernet), so a key is rotated by putting the new one first, re-encrypting
(`rotate()`), then dropping the old one.
"""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailable(RuntimeError):
    """`SECRETS_KEY` is not set, or no key of it opens a stored secret."""


class SecretBox:
    """Encrypts and decrypts channel secrets with the keys of `SECRETS_KEY`."""

    def __init__(self, keys: str | None) -> None:
        self._fernet = (
            MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
            if keys
            else None
        )

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailable("SECRETS_KEY is not set: webhook secrets cannot be stored")
        return self._fernet

    def encrypt(self, plain: str) -> str:
        """Return `plain` encrypted with the first key."""
        return self._keys().encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Return the secret stored as `token`.

        Raises:
          SecretsUnavailable: No key configured, or none of them opens `token`.
        """
        try:
            return self._keys().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnavailable("no key of SECRETS_KEY decrypts this secret") from None

    def rotate(self, token: str) -> str:
        """Return `token` re-encrypted with the first key."""
        return self._keys().rotate(token.encode()).decode()


def new_signing_secret() -> str:
    """Return a fresh webhook signing secret (shown once, when the channel is created)."""
    return "whsec_" + secrets.token_urlsafe(32)


def generate_key() -> str:
    """Return a new Fernet key (for `SECRETS_KEY`)."""
    return Fernet.generate_key().decode()
