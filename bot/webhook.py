"""`POST /whatsapp/webhook` (Twilio inbound messages) and `POST /whatsapp/status`."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from bot import delivery_status
from bot.context import runtime
from bot.errors import ApiError
from bot.inbound import InboundMessage
from bot.logs import bind_log_context
from bot.signatures import require_valid_signature

logger = logging.getLogger(__name__)

bp = Blueprint("whatsapp", __name__, url_prefix="/whatsapp")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_SID_LENGTH = 64
MAX_ADDRESS_LENGTH = 128


def _text(field: str) -> str:
    # PostgreSQL text cannot hold NUL; no real message carries one.
    return request.form.get(field, "").replace("\x00", "")


def _address(field: str) -> str:
    value = request.form.get(field, "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :].strip()
    if not value:
        raise ApiError(400, "invalid_parameter", f"missing {field}")
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ApiError(400, "invalid_parameter", f"{field} is too long")
    if not value.isprintable():
        raise ApiError(400, "invalid_parameter", f"{field} contains control characters")
    return value


def _message_sid() -> str:
    sid = request.form.get("MessageSid", "").strip()
    if not sid:
        raise ApiError(400, "invalid_parameter", "missing MessageSid")
    if len(sid) > MAX_SID_LENGTH or not sid.isascii() or not sid.isprintable():
        raise ApiError(400, "invalid_parameter", "MessageSid is not a Twilio SID")
    return sid


@bp.post("/webhook")
def inbound_message() -> Response:
    """Store, count and answer one inbound WhatsApp message (SPEC §4)."""
    current = runtime()
    require_valid_signature(request, current.settings)
    sid = _message_sid()
    sender, to_number = _address("From"), _address("To")
    bind_log_context(message_sid=sid)
    tenant = current.tenants.by_number(to_number)
    if tenant is None:
        logger.warning("inbound message %s for unknown number %s", sid, to_number)
        raise ApiError(404, "not_found", f"no restaurant has the WhatsApp number {to_number}")
    bind_log_context(restaurant_id=tenant.id)
    message = InboundMessage(
        sid=sid,
        from_address=sender,
        to_number=to_number,
        body=_text("Body"),
        profile_name=_text("ProfileName").strip()[:256] or None,
        button_payload=_text("ButtonPayload")[:256] or None,
    )
    current.reception.handle(tenant, message)
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
def status_callback() -> Response:
    """Move an outbound message's status forward (Twilio status callbacks)."""
    current = runtime()
    require_valid_signature(request, current.settings)
    sid = _message_sid()
    status = (_text("MessageStatus") or _text("SmsStatus")).strip().lower()
    if not status:
        raise ApiError(400, "invalid_parameter", "missing MessageStatus")
    error_code = _text("ErrorCode").strip() or None
    bind_log_context(message_sid=sid)
    with current.transaction() as session:
        delivery_status.apply(
            session, sid, status, error_code, record_events=current.settings.insight_events
        )
    return Response(EMPTY_TWIML, mimetype="text/xml")
