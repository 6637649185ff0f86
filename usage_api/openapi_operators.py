"""Operators' actions in the OpenAPI document (SPEC §14): bulk dead letters, the audit log."""

from __future__ import annotations

from typing import Any

from usage_api.openapi_schema import (
    ADMIN,
    COUNT,
    DEAD_LETTER_FILTER_SCHEMAS,
    DENIED,
    PAGE_PARAMETERS,
    TIMESTAMP,
    error_response,
    json_content,
    ref,
    response,
    strict,
)

_SELECTION = {
    "type": "object",
    "description": 'Either "filter" or "ids" (not both), and "expect": the count previewed.',
    "properties": {
        "filter": {
            "type": "object",
            "properties": DEAD_LETTER_FILTER_SCHEMAS,
            "additionalProperties": False,
        },
        "ids": {
            "type": "array",
            "description": "Dramatiq message ids (UUIDs); more letters go by filter",
            "items": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
            "maxItems": 500,
        },
        "expect": {**COUNT, "description": "how many letters the selection had when previewed"},
    },
    "required": ["expect"],
    "oneOf": [{"required": ["filter"]}, {"required": ["ids"]}],
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "DeadLetterSelection": _SELECTION,
    "BulkRequeued": strict(
        "Letters matched, and put back on their queues (fewer when some vanished meanwhile).",
        {"matched": COUNT, "requeued": COUNT},
    ),
    "BulkDeleted": strict(
        "Letters matched, and deleted (fewer when some vanished meanwhile).",
        {"matched": COUNT, "deleted": COUNT},
    ),
    "AuditEntry": strict(
        "One operator action.",
        {
            "id": {"type": "integer"},
            "keyPrefix": {"type": "string", "description": "the acting key's display prefix"},
            "action": {"type": "string", "examples": ["dead_letters.retry"]},
            "filter": {"type": ["object", "null"]},
            "ids": {"type": ["array", "null"], "items": {"type": "string"}},
            "count": COUNT,
            "at": TIMESTAMP,
        },
    ),
    "AuditPage": strict(
        "A page of the audit log, newest first.",
        {"data": {"type": "array", "items": ref("AuditEntry")}, "pagination": ref("Pagination")},
    ),
}

_STALE = error_response(
    "`conflict`: the selection no longer has `expect` letters (nothing was done; the error"
    " also carries `matched`), or another bulk action is running"
)


def _bulk(operation_id: str, summary: str, result: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": "Runs in chunks; recorded in the audit log. A read-only key gets 403.",
            "security": ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("DeadLetterSelection")}},
            },
            "responses": {
                "200": json_content("Done", ref(result)),
                "400": response("BadRequest"),
                **DENIED,
                "409": _STALE,
                "413": error_response("`payload_too_large`: a body over 64 KiB"),
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/admin/dead-letters/retry": _bulk(
        "retryDeadLetters",
        "Put every letter of a filter or of some ids back on its queue (API key only)",
        "BulkRequeued",
    ),
    "/api/admin/dead-letters/delete": _bulk(
        "deleteDeadLetters",
        "Delete every letter of a filter or of some ids (API key only)",
        "BulkDeleted",
    ),
    "/api/admin/audit": {
        "get": {
            "operationId": "listAuditEntries",
            "summary": "Operators' actions, newest first (API key only, read-only keys too)",
            "security": ADMIN,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": json_content("A page of the audit log", ref("AuditPage")),
                "400": response("BadRequest"),
                **DENIED,
            },
        }
    },
}
