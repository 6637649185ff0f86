"""`GET /api/admin/audit`: operators' actions, newest first (SPEC §14; admins and viewers)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bot.context import runtime
from operations.audit import audit_json, audit_page
from usage_api.auth import require_admin
from usage_api.pagination import page_request

bp = Blueprint("audit", __name__, url_prefix="/api/admin/audit")


@bp.get("")
def list_audit_entries() -> ResponseReturnValue:
    """Answer with a page of the audit log, newest first."""
    with runtime().read_transaction() as session:
        require_admin(session)
        page = page_request(request.args)
        total, entries = audit_page(session, limit=page.limit, offset=page.offset)
        return jsonify(
            {"data": [audit_json(e) for e in entries], "pagination": page.pagination(total)}
        )
