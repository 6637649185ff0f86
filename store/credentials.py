"""Personal access tokens and admin API keys: minting, listing, revoking, verifying."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import tokens
from store.models import ApiKey, PersonalAccessToken, Restaurant
from store.timeutil import utcnow

# API-key roles: an admin reads and acts; a viewer (`api-keys create --read-only`) reads only.
ADMIN_ROLE = "admin"
VIEWER_ROLE = "viewer"
ROLES = (ADMIN_ROLE, VIEWER_ROLE)

# last_used_at is a hint for owners, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

CredentialT = TypeVar("CredentialT", PersonalAccessToken, ApiKey)


class CredentialError(ValueError):
    """A credential command was given bad input (unknown restaurant, unknown prefix, …)."""


@dataclass(frozen=True)
class Minted:
    """A new credential's row and its secret, which is shown once and never stored."""

    secret: str
    prefix: str
    expires_at: dt.datetime | None


def create_pat(
    session: Session, *, restaurant_id: str, name: str = "default", expires_in_days: int | None
) -> Minted:
    """Mint a personal access token for a restaurant."""
    if session.get(Restaurant, restaurant_id) is None:
        raise CredentialError(f"unknown restaurant {restaurant_id!r}")
    if expires_in_days is not None and expires_in_days < 1:
        raise CredentialError(f"--expires-in-days must be 1 or more, got {expires_in_days}")
    new = tokens.mint(tokens.PAT_TYPE)
    expires_at = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    session.add(
        PersonalAccessToken(
            restaurant_id=restaurant_id,
            name=_check_name(name),
            prefix=new.prefix,
            token_hash=new.token_hash,
            expires_at=expires_at,
        )
    )
    session.flush()
    return Minted(secret=new.secret, prefix=new.prefix, expires_at=expires_at)


def create_api_key(session: Session, *, name: str, role: str = ADMIN_ROLE) -> Minted:
    """Mint an admin API key (`role` "viewer": a read-only one)."""
    if role not in ROLES:
        raise CredentialError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    new = tokens.mint(tokens.API_KEY_TYPE)
    session.add(
        ApiKey(name=_check_name(name), prefix=new.prefix, token_hash=new.token_hash, role=role)
    )
    session.flush()
    return Minted(secret=new.secret, prefix=new.prefix, expires_at=None)


def list_pats(session: Session, restaurant_id: str | None = None) -> Sequence[PersonalAccessToken]:
    """Return personal access tokens, oldest first, optionally of one restaurant."""
    query = select(PersonalAccessToken).order_by(PersonalAccessToken.id)
    if restaurant_id is not None:
        query = query.where(PersonalAccessToken.restaurant_id == restaurant_id)
    return session.scalars(query).all()


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    """Return admin API keys, oldest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke(session: Session, model: type[CredentialT], prefix: str) -> CredentialT:
    """Revoke the credential with display prefix `prefix`, or the whole token (idempotent)."""
    prefix = prefix.strip()
    if any(tokens.is_well_formed(prefix, kind) for kind in (tokens.PAT_TYPE, tokens.API_KEY_TYPE)):
        prefix = tokens.display_prefix(prefix)  # someone pasted the whole token
    credential = session.scalars(select(model).where(model.prefix == prefix)).first()
    if credential is None:
        raise CredentialError(f"no credential with prefix {prefix!r}")
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
    session.flush()
    return credential


def revoke_named(session: Session, model: type[CredentialT], name: str, **filters: str) -> int:
    """Revoke every active credential called `name` (and matching `filters`); return how many."""
    query = update(model).where(model.name == name, model.revoked_at.is_(None))
    for column, value in filters.items():
        query = query.where(getattr(model, column) == value)
    result = session.execute(query.values(revoked_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def verify(
    session: Session,
    model: type[CredentialT],
    kind: str,
    secret: str,
    *,
    now: dt.datetime | None = None,
) -> CredentialT | None:
    """Return the usable credential for `secret`, or None (malformed, unknown, expired, revoked).

    A secret with a bad shape or checksum is refused without touching the database. The
    lookup is by SHA-256, so an unknown token and a wrong one cost the same; the stored
    hash is compared again in constant time. `now` decides expiry (default: the clock).
    """
    if not tokens.is_well_formed(secret, kind):
        return None
    token_hash = tokens.hash_token(secret)
    credential = session.scalars(select(model).where(model.token_hash == token_hash)).first()
    if credential is None or not secrets.compare_digest(credential.token_hash, token_hash):
        return None
    if not credential.is_usable(now or utcnow()):
        return None
    return credential


def last_use_is_due(last_used_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Return True when a credential last used at `last_used_at` is due a new write."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def touch_last_used(
    session: Session,
    credential: PersonalAccessToken | ApiKey,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Record use of a credential, at most once per `LAST_USED_RESOLUTION`."""
    now = now or utcnow()
    if not last_use_is_due(credential.last_used_at, now):
        return
    model = type(credential)
    cutoff = now - LAST_USED_RESOLUTION
    session.execute(
        update(model)
        .where(model.id == credential.id)
        .where((model.last_used_at.is_(None)) | (model.last_used_at <= cutoff))
        .values(last_used_at=now)
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise CredentialError("name must be 1-100 characters")
    return name
