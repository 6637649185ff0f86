"""Dashboard sessions on the server: opened at sign-in, checked on every request, ended.

The browser holds a random token (in a cookie the dashboard signs with `SECRET_KEY`); the
database holds its SHA-256 and which credential signed in. Every request reads the
session together with its credential in one statement, so a revoked or expired
credential, or 12 hours without a request, ends the session at once. `last_seen_at` is
written at most once a minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from signin.models import DashboardSession
from store import credentials, tokens
from store.models import ApiKey, PersonalAccessToken

IDLE_TIMEOUT = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)
OWNER_ROLE = "owner"


@dataclass(frozen=True)
class SignedIn:
    """Who a dashboard session belongs to.

    Parameters:
      role: "admin" or "viewer" for an API key, "owner" for a PAT.
      prefix: The credential's display prefix (what the audit log records).
      restaurant_id: The PAT's restaurant; None for an API key.
    """

    session_id: int
    role: str
    prefix: str
    restaurant_id: str | None
    last_seen_at: dt.datetime

    @property
    def is_admin(self) -> bool:
        """Return True for an API key, read-only or not (the operator pages)."""
        return self.restaurant_id is None

    @property
    def can_act(self) -> bool:
        """Return False for a read-only key: it sees everything and changes nothing."""
        return self.role != credentials.VIEWER_ROLE

    def sees_restaurant(self, restaurant_id: str) -> bool:
        """Return True when this session may read that restaurant's owner pages."""
        return self.is_admin or self.restaurant_id == restaurant_id


def hash_session_token(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_credentials(
    session: Session,
    *,
    api_key: str | None = None,
    token: str | None = None,
    restaurant_id: str | None = None,
    now: dt.datetime,
) -> ApiKey | PersonalAccessToken | None:
    """Return the credential that signs in: an admin key, or a PAT of `restaurant_id`.

    A PAT of another restaurant is refused like a wrong one (None).
    """
    if api_key:
        return credentials.verify(session, ApiKey, tokens.API_KEY_TYPE, api_key.strip(), now=now)
    if token and restaurant_id:
        pat = credentials.verify(
            session, PersonalAccessToken, tokens.PAT_TYPE, token.strip(), now=now
        )
        if pat is not None and pat.restaurant_id == restaurant_id.strip():
            return pat
    return None


def open_session(
    session: Session, credential: ApiKey | PersonalAccessToken, *, now: dt.datetime
) -> str:
    """Start a session for `credential`; return its new token (for the cookie only)."""
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            token_hash=hash_session_token(token),
            api_key_id=credential.id if isinstance(credential, ApiKey) else None,
            pat_id=credential.id if isinstance(credential, PersonalAccessToken) else None,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def load_session(session: Session, token: str, *, now: dt.datetime) -> SignedIn | None:
    """Return who the session of `token` belongs to, or None when it is unknown, idle for
    12 hours, or its credential is revoked or expired (one statement)."""
    row = session.execute(
        select(DashboardSession, ApiKey, PersonalAccessToken)
        .outerjoin(ApiKey, ApiKey.id == DashboardSession.api_key_id)
        .outerjoin(PersonalAccessToken, PersonalAccessToken.id == DashboardSession.pat_id)
        .where(DashboardSession.token_hash == hash_session_token(token))
    ).first()
    if row is None:
        return None
    found, key, pat = row
    if now - found.last_seen_at >= IDLE_TIMEOUT:
        return None
    credential = key or pat
    if credential is None or not credential.is_usable(now):
        return None
    return SignedIn(
        session_id=found.id,
        role=key.role if key is not None else OWNER_ROLE,
        prefix=credential.prefix,
        restaurant_id=pat.restaurant_id if pat is not None else None,
        last_seen_at=found.last_seen_at,
    )


def touch_is_due(signed_in: SignedIn, now: dt.datetime) -> bool:
    """Return True when the session's `last_seen_at` is a minute old or more."""
    return now - signed_in.last_seen_at >= TOUCH_EVERY


def touch(session: Session, signed_in: SignedIn, *, now: dt.datetime) -> None:
    """Record that the session was used now (keeps it from going idle)."""
    session.execute(
        update(DashboardSession)
        .where(DashboardSession.id == signed_in.session_id)
        .values(last_seen_at=now)
    )


def end_session(session: Session, token: str) -> None:
    """End the session of `token` (sign-out); nothing happens for an unknown one."""
    session.execute(
        delete(DashboardSession).where(DashboardSession.token_hash == hash_session_token(token))
    )


def end_idle_sessions(session: Session, *, now: dt.datetime) -> int:
    """Delete sessions idle for 12 hours or whose credential is revoked; return how many."""
    revoked_keys = select(ApiKey.id).where(ApiKey.revoked_at.is_not(None))
    revoked_pats = select(PersonalAccessToken.id).where(PersonalAccessToken.revoked_at.is_not(None))
    result = session.execute(
        delete(DashboardSession).where(
            or_(
                DashboardSession.last_seen_at < now - IDLE_TIMEOUT,
                DashboardSession.api_key_id.in_(revoked_keys),
                DashboardSession.pat_id.in_(revoked_pats),
            )
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
