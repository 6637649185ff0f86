"""Dead letters (SPEC §9, admins): list, replay, delete.

`POST …/<id>/retry` answers `202 {"id", "status": "requeued"}` once the letter is back on
its queue (atomically: a letter is never both replayed and still listed, and two racing
replays put it back once; the loser gets `404`). On RabbitMQ, which keeps dead letters in
queues that cannot be browsed, these endpoints answer `501 not_implemented`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from actors.dead_letters import (
    DeadLettersUnsupported,
    delete_letter,
    list_letters,
    retry_letter,
)
from bot.context import runtime
from bot.errors import ApiError, error_response
from usage_api.auth import require_admin
from usage_api.pagination import page_request

bp = Blueprint("dead_letters", __name__, url_prefix="/api/admin/dead-letters")


@bp.errorhandler(DeadLettersUnsupported)
def _unsupported(error: DeadLettersUnsupported) -> ResponseReturnValue:
    return error_response(501, "not_implemented", str(error))


@bp.get("")
def list_dead_letters() -> ResponseReturnValue:
    """Answer with a page of dead letters, most recently dead first."""
    require_admin()
    page = page_request(request.args)
    total, letters = list_letters(runtime(), offset=page.offset, limit=page.limit)
    return jsonify({"data": letters, "pagination": page.pagination(total)})


@bp.post("/<message_id>/retry")
def retry_dead_letter(message_id: str) -> ResponseReturnValue:
    """Put a dead letter back on its queue; its job becomes `queued`."""
    require_admin()
    if not retry_letter(runtime(), message_id):
        raise _not_found(message_id)
    return jsonify({"id": message_id, "status": "requeued"}), 202


@bp.delete("/<message_id>")
def delete_dead_letter(message_id: str) -> ResponseReturnValue:
    """Drop a dead letter for good."""
    require_admin()
    if not delete_letter(runtime(), message_id):
        raise _not_found(message_id)
    deleted = Response(status=204)
    del deleted.headers["Content-Type"]  # no body, so no type
    return deleted


def _not_found(message_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no dead letter with id {message_id!r}")
