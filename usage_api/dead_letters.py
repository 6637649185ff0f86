"""Dead letters (SPEC §9 and §14, admins): list with filters, replay, delete — one, some
ids, or every letter a filter matches.

`POST …/<id>/retry` answers `202 {"id", "status": "requeued"}` once the letter is back on
its queue (atomically: a letter is never both replayed and still listed, and two racing
replays put it back once; the loser gets `404`). `POST …/retry` and `POST …/delete` take
`{"filter": {…}}` or `{"ids": […]}` and `"expect"`, the count the operator previewed: when
the selection has another count nothing is done (`409 conflict`). A read-only key may list
and never act (`403`). Every action is in the audit log. On RabbitMQ, which keeps dead
letters in queues that cannot be browsed, these endpoints answer `501 not_implemented`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from actors.dead_letter_bulk import BulkBusy, StaleSelection, settle_in_bulk
from actors.dead_letter_store import DeadLettersUnsupported
from actors.dead_letters import delete_letter, list_letters, retry_letter
from bot.context import runtime
from bot.errors import ApiError, error_response
from operations.dead_letter_index import FILTER_KEYS, DeadLetterFilter, FilterError
from usage_api.auth import require_admin, require_can_act
from usage_api.pagination import page_request

bp = Blueprint("dead_letters", __name__, url_prefix="/api/admin/dead-letters")


class LetterId(BaseConverter):
    """A message id in a path; `retry` and `delete` name the bulk endpoints instead (so
    `…/retry` is not also `DELETE …/<id>`)."""

    regex = r"(?!(?:retry|delete)$)[^/]+"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["letter_id"] = LetterId


# Ids in one bulk request (a body stays well under 64 KiB); larger selections go by filter.
MAX_IDS = 500
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@bp.errorhandler(DeadLettersUnsupported)
def _unsupported(error: DeadLettersUnsupported) -> ResponseReturnValue:
    return error_response(501, "not_implemented", str(error))


@bp.errorhandler(StaleSelection)
def _stale(error: StaleSelection) -> ResponseReturnValue:
    answer = jsonify(
        {
            "error": {
                "code": "conflict",
                "message": str(error),
                "matched": error.matched,
                "expect": error.expected,
            }
        }
    )
    answer.status_code = 409
    return answer


@bp.errorhandler(BulkBusy)
def _busy(error: BulkBusy) -> ResponseReturnValue:
    return error_response(409, "conflict", str(error))


@bp.get("")
def list_dead_letters() -> ResponseReturnValue:
    """Answer with a page of dead letters, most recently dead first, filtered."""
    require_admin()
    page = page_request(request.args)
    letters = filter_of(request.args)
    total, found = list_letters(runtime(), offset=page.offset, limit=page.limit, letters=letters)
    return jsonify({"data": found, "pagination": page.pagination(total)})


@bp.post("/retry")
def retry_dead_letters() -> ResponseReturnValue:
    """Replay every letter of a filter or of some ids, if there are `expect` of them."""
    return _in_bulk("retry", "requeued")


@bp.post("/delete")
def delete_dead_letters() -> ResponseReturnValue:
    """Delete every letter of a filter or of some ids, if there are `expect` of them."""
    return _in_bulk("delete", "deleted")


@bp.post("/<letter_id:message_id>/retry")
def retry_dead_letter(message_id: str) -> ResponseReturnValue:
    """Put a dead letter back on its queue; its job becomes `queued`."""
    principal = require_admin()
    require_can_act(principal)
    if not retry_letter(runtime(), message_id, by=principal.prefix):
        raise _not_found(message_id)
    return jsonify({"id": message_id, "status": "requeued"}), 202


@bp.delete("/<letter_id:message_id>")
def delete_dead_letter(message_id: str) -> ResponseReturnValue:
    """Drop a dead letter for good."""
    principal = require_admin()
    require_can_act(principal)
    if not delete_letter(runtime(), message_id, by=principal.prefix):
        raise _not_found(message_id)
    deleted = Response(status=204)
    del deleted.headers["Content-Type"]  # no body, so no type
    return deleted


def filter_of(values: Mapping[str, Any]) -> DeadLetterFilter:
    """Return the dead-letter filter of query arguments (other arguments are ignored).

    Raises:
      ApiError: 400 `invalid_parameter` for a malformed value (a time not ISO 8601…).
    """
    try:
        return DeadLetterFilter.parse({key: values[key] for key in FILTER_KEYS if key in values})
    except FilterError as error:
        raise ApiError(400, "invalid_parameter", str(error)) from None


def _in_bulk(action: str, done_key: str) -> ResponseReturnValue:
    principal = require_admin()
    require_can_act(principal)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid('send a JSON object: {"filter": {...}} or {"ids": [...]}, and "expect"')
    unknown = sorted(set(body) - {"filter", "ids", "expect"})
    if unknown:
        raise _invalid(f"unknown key {unknown[0]!r} (expected filter or ids, and expect)")
    expect = body.get("expect")
    if isinstance(expect, float) and expect.is_integer():
        expect = int(expect)  # JSON Schema's integer: 3.0 is 3
    if not isinstance(expect, int) or isinstance(expect, bool) or expect < 0:
        raise _invalid('"expect" is required: the number of letters you previewed (0 or more)')
    if ("filter" in body) == ("ids" in body):
        raise _invalid('send either "filter" or "ids", not both and not neither')
    selection: DeadLetterFilter | list[str]
    if "filter" in body:
        if not isinstance(body["filter"], dict):
            raise _invalid('"filter" must be an object of actor, restaurantId, errorClass…')
        try:
            selection = DeadLetterFilter.parse(body["filter"])
        except FilterError as error:
            raise _invalid(str(error)) from None
    else:
        ids = body["ids"]
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_IDS
            or not all(isinstance(i, str) and MESSAGE_ID.fullmatch(i) for i in ids)
        ):
            raise _invalid(f'"ids" must be a list of at most {MAX_IDS} message ids')
        selection = ids
    outcome = settle_in_bulk(
        runtime(),
        "retry" if action == "retry" else "delete",
        selection,
        expect=expect,
        by=principal.prefix,
    )
    return jsonify({"matched": outcome.matched, done_key: outcome.done})


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", message)


def _not_found(message_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no dead letter with id {message_id!r}")
