"""Who is calling the REST API: an admin (API key) or a restaurant owner (PAT).

The rules (SPEC §8), for every `/api/*` endpoint that is not public:

- `X-API-Key`, when sent, alone decides: a bad key is `401` whatever else is sent, and
  `X-Restaurant-Id` is then ignored.
- Otherwise `Authorization: Bearer <PAT>` + `X-Restaurant-Id: <id>`, checked in this
  order: no credentials → `401 missing_credentials`; malformed, unknown, expired or
  revoked → `401 invalid_credentials`; `X-Restaurant-Id` missing → `400
  missing_restaurant_id`; any restaurant but the token's, existing or not → `403`.
- A PAT on an admin-only endpoint → `403`.

Views call `require_admin(session)` or `require_owner_or_admin(session)` first, inside
their read transaction, and get the `Principal`.
A token with a bad checksum is refused without a database lookup; the others are looked
up by SHA-256 (`store.credentials.verify`), so unknown and wrong tokens answer the same
body in about the same time. `last_used_at` is written at most once a minute per token,
after the view's reads, in a short write transaction of its own: most requests never
write, and none waits for the write lock before reading.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from flask import Request, Response, after_this_request, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.context import runtime
from bot.errors import ApiError
from store import credentials, tokens
from store.models import ApiKey, PersonalAccessToken
from usage_api.clock import request_now

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
RESTAURANT_HEADER = "X-Restaurant-Id"
# RFC 9110 asks every 401 to name a scheme the client can use.
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Parameters:
      kind: "api_key" for an admin, "pat" for a restaurant owner.
      prefix: The credential's display prefix (safe to log).
      restaurant_id: The PAT's restaurant; None for an admin.
      credential_id: The row id of the PAT or API key.
      last_used_at: When the credential was last recorded as used, before this request.
    """

    kind: Literal["api_key", "pat"]
    prefix: str
    restaurant_id: str | None
    credential_id: int
    last_used_at: dt.datetime | None

    @property
    def is_admin(self) -> bool:
        """Return True for an API key (every restaurant, admin endpoints)."""
        return self.kind == "api_key"


def missing_credentials() -> ApiError:
    """Return the 401 for a request without any credentials."""
    return ApiError(
        401,
        "missing_credentials",
        f"send an admin key in {API_KEY_HEADER}, or a personal access token as"
        f" 'Authorization: Bearer <token>' with {RESTAURANT_HEADER}",
        CHALLENGE,
    )


def invalid_credentials() -> ApiError:
    """Return the 401 for a bad credential (one body for malformed, unknown, expired, revoked)."""
    return ApiError(
        401, "invalid_credentials", "the credentials are invalid, expired or revoked", CHALLENGE
    )


def forbidden(message: str = "these credentials do not give access to this resource") -> ApiError:
    """Return the 403 for an authenticated caller without access."""
    return ApiError(403, "forbidden", message)


def authenticate(http_request: Request, session: Session, *, now: dt.datetime) -> Principal:
    """Return the caller identified by the request's headers.

    Raises:
      ApiError: 401 `missing_credentials` or `invalid_credentials`.
    """
    api_key = http_request.headers.get(API_KEY_HEADER)
    if api_key is not None:
        key = credentials.verify(session, ApiKey, tokens.API_KEY_TYPE, api_key.strip(), now=now)
        if key is None:
            raise invalid_credentials()
        return Principal(
            kind="api_key",
            prefix=key.prefix,
            restaurant_id=None,
            credential_id=key.id,
            last_used_at=key.last_used_at,
        )
    authorization = http_request.headers.get("Authorization")
    if authorization is None:
        raise missing_credentials()
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise invalid_credentials()
    pat = credentials.verify(session, PersonalAccessToken, tokens.PAT_TYPE, secret.strip(), now=now)
    if pat is None:
        raise invalid_credentials()
    return Principal(
        kind="pat",
        prefix=pat.prefix,
        restaurant_id=pat.restaurant_id,
        credential_id=pat.id,
        last_used_at=pat.last_used_at,
    )


def check_restaurant_header(principal: Principal, http_request: Request) -> None:
    """Refuse a PAT whose `X-Restaurant-Id` is missing (400) or not its restaurant (403).

    An admin's `X-Restaurant-Id` is ignored.
    """
    if principal.is_admin:
        return
    requested = http_request.headers.get(RESTAURANT_HEADER, "").strip()
    if not requested:
        raise ApiError(
            400,
            "missing_restaurant_id",
            f"a personal access token must be sent with {RESTAURANT_HEADER}",
        )
    if requested != principal.restaurant_id:
        # The same answer whether that restaurant exists or not.
        raise forbidden("this token does not give access to that restaurant")


def require_owner_or_admin(session: Session | None = None) -> Principal:
    """Authenticate the current request as an admin or as the owner it names.

    Parameters:
      session: The view's read session, so that the credential lookup joins its
        transaction; without one a short read transaction of its own is used.

    Raises:
      ApiError: 401, 400 `missing_restaurant_id` or 403, in the order of SPEC §8.
    """
    principal = _authenticate_current_request(session)
    check_restaurant_header(principal, request)
    return principal


def require_admin(session: Session | None = None) -> Principal:
    """Authenticate the current request as an admin; a valid PAT gets 403.

    Parameters:
      session: As for `require_owner_or_admin`.

    Raises:
      ApiError: 401, or 403 for a personal access token.
    """
    principal = _authenticate_current_request(session)
    if not principal.is_admin:
        raise forbidden("this endpoint needs an admin API key")
    return principal


def record_use(principal: Principal, now: dt.datetime) -> None:
    """Write the credential's `last_used_at` when the last write is a minute old or more.

    Its own short write transaction, only when due: the request's read transaction stays
    a reader (on SQLite it never takes or waits for the write lock), and a failure (a
    busy SQLite file) is logged and does not fail the request — the field is a hint for
    owners, not an audit log.
    """
    if not credentials.last_use_is_due(principal.last_used_at, now):
        return
    try:
        with runtime().transaction() as session:
            credential = (
                session.get(ApiKey, principal.credential_id)
                if principal.is_admin
                else session.get(PersonalAccessToken, principal.credential_id)
            )
            if credential is not None:  # revoked and deleted meanwhile: nothing to record
                credentials.touch_last_used(session, credential, now=now)
    except SQLAlchemyError:
        logger.warning("could not record use of credential %s", principal.prefix, exc_info=True)


def _authenticate_current_request(session: Session | None) -> Principal:
    now = request_now()
    if session is None:
        with runtime().read_transaction() as own_session:
            principal = authenticate(request, own_session, now=now)
    else:
        principal = authenticate(request, session, now=now)
    if credentials.last_use_is_due(principal.last_used_at, now):
        # Once the view has read what it needs: its reads never wait for this write.
        after_this_request(_recording_use(principal, now))
    return principal


def _recording_use(principal: Principal, now: dt.datetime) -> Callable[[Response], Response]:
    def record(response: Response) -> Response:
        record_use(principal, now)
        return response

    return record


def require_can_act(principal: Principal) -> None:
    """Refuse credentials that may only read (403 forbidden)."""
    return None
