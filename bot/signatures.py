"""Twilio webhook signatures: validated over every posted parameter and the public URL."""

from __future__ import annotations

import logging

from flask import Request
from twilio.request_validator import RequestValidator, get_signature_algorithm

from bot.errors import ApiError
from store.settings import Settings

logger = logging.getLogger(__name__)


def public_url(request: Request, settings: Settings) -> str:
    """Return the URL Twilio called: `PUBLIC_BASE_URL` (behind a proxy) or the request's own
    scheme and host, then the path and the raw query string."""
    base = settings.public_base_url.rstrip("/") if settings.public_base_url else None
    if base is None:
        base = f"{request.scheme}://{request.host}"
    url = base + request.root_path + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def require_valid_signature(request: Request, settings: Settings) -> None:
    """Raise a 403 ApiError unless `X-Twilio-Signature` signs this request.

    Never skipped: without an auth token every request is refused (and that is logged).
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise ApiError(403, "forbidden", "missing X-Twilio-Signature header")
    token = settings.twilio_auth_token
    if not token:
        logger.error("TWILIO_AUTH_TOKEN is not set: every webhook is refused")
        raise ApiError(403, "forbidden", "webhook signatures cannot be checked")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    url = public_url(request, settings)
    if not RequestValidator(token).validate(url, request.form, signature, algorithm):
        logger.warning("rejected webhook with a bad signature for %s", url)
        raise ApiError(403, "forbidden", "invalid X-Twilio-Signature")
