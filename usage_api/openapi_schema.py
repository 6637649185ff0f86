"""Building blocks of the OpenAPI document shared by its parts (SPEC §8 conventions).

Schemas are JSON Schema 2020-12 and strict (`additionalProperties: false`, every key
required), so tests and schemathesis validate real responses against exactly what the
spec promises. This module imports no part and is imported by every part; `openapi.py`
assembles the document from the parts.
"""

from __future__ import annotations

from typing import Any

from operations.error_classes import ERROR_CLASS
from usage_api.auth import API_KEY_HEADER, RESTAURANT_HEADER
from usage_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
ERROR_CODES = [
    "missing_credentials",
    "invalid_credentials",
    "forbidden",
    "not_found",
    "invalid_parameter",
    "missing_restaurant_id",
    "payload_too_large",
    "method_not_allowed",
    "conflict",
    "import_running",
    "rate_limited",
    "csrf_failed",
    "internal_error",
    "not_implemented",
    "unavailable",
]


def ref(name: str) -> dict[str, str]:
    """Return a reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def response(name: str) -> dict[str, str]:
    """Return a reference to the shared response `name` (`Unauthorized`, `NotFound`, …)."""
    return {"$ref": f"#/components/responses/{name}"}


def strict(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Return an object schema whose every property is required and nothing else allowed."""
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def json_content(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Return a response (or request body) carrying JSON of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a response carrying the error body of SPEC §8."""
    answer = json_content(description, ref("Error"))
    if headers:
        answer["headers"] = headers
    return answer


COUNT = {"type": "integer", "minimum": 0}
NULLABLE_TEXT = {"type": ["string", "null"]}
TIMESTAMP = {
    "type": ["string", "null"],
    "pattern": TIMESTAMP_PATTERN,
    "description": "ISO 8601 UTC with milliseconds and Z; null when there is none",
    "examples": ["2025-10-20T15:30:00.000Z"],
}

PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Page size; above {MAX_LIMIT} means {MAX_LIMIT}",
        "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
    },
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    },
]
# The dead-letter filter (SPEC §14): query parameters of the list, keys of a bulk "filter".
# An empty value means "any" (what an HTML form sends for a field left blank).
TIME_OR_DATE = [
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "date"},
    {"type": "string", "maxLength": 0},
]
DEAD_LETTER_FILTER_SCHEMAS: dict[str, Any] = {
    "actor": {"type": "string", "pattern": "^[^\\u0000]*$", "maxLength": 200},
    "restaurantId": {"type": "string", "pattern": "^[^\\u0000]*$", "maxLength": 200},
    "errorClass": {
        "type": "string",
        "pattern": f"^({ERROR_CLASS.pattern.strip('^$')})?$",
        "maxLength": 100,
        "description": "the final error's exception class, e.g. CatalogUnavailable or"
        " TwilioError:63016",
    },
    "after": {
        "anyOf": TIME_OR_DATE,
        "description": "dead-lettered at or after (an ISO 8601 time with offset, or a date:"
        " midnight UTC)",
        "examples": ["2025-10-20T15:30:00Z"],
    },
    "before": {
        "anyOf": TIME_OR_DATE,
        "description": "dead-lettered before (as `after`)",
        "examples": ["2025-10-21T00:00:00Z"],
    },
}
DEAD_LETTER_FILTERS = [
    {"name": name, "in": "query", "schema": schema}
    for name, schema in DEAD_LETTER_FILTER_SCHEMAS.items()
]
OWNER_OR_ADMIN: list[dict[str, list[str]]] = [
    {"personalAccessToken": [], "restaurantId": []},
    {"adminApiKey": []},
]
ADMIN: list[dict[str, list[str]]] = [{"adminApiKey": []}]
DENIED = {"401": response("Unauthorized"), "403": response("Forbidden")}

SCHEMAS: dict[str, Any] = {
    "Pagination": strict(
        "Where this page is in the whole list.",
        {
            "total": COUNT,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "offset": COUNT,
            "hasMore": {"type": "boolean"},
        },
    ),
    "Error": strict(
        "Every error answer.",
        {
            "error": {
                "type": "object",
                "description": "What went wrong (some codes add fields, e.g. `jobId`).",
                "properties": {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                },
                "required": ["code", "message"],
            }
        },
    ),
}

RESPONSES: dict[str, Any] = {
    "Unauthorized": error_response(
        "`missing_credentials` or `invalid_credentials` (malformed, unknown, expired, revoked)",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}},
    ),
    "Forbidden": error_response("`forbidden`: these credentials do not reach this resource"),
    "NotFound": error_response("`not_found`"),
    "BadRequest": error_response("`invalid_parameter` or `missing_restaurant_id`"),
    "Conflict": error_response("`conflict`: the resource is not in a state that allows it"),
}

SECURITY_SCHEMES: dict[str, Any] = {
    "personalAccessToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A restaurant owner's token (`rbpat_…`); needs restaurantId too.",
    },
    "restaurantId": {
        "type": "apiKey",
        "in": "header",
        "name": RESTAURANT_HEADER,
        "description": "The token's restaurant; any other id is 403.",
    },
    "adminApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "An admin key (`rbkey_…`); when sent it alone decides.",
    },
}
