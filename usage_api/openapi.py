"""`GET /api/openapi.json`: the OpenAPI 3.1 description of the usage API (no auth).

Its schemas are JSON Schema 2020-12 and strict (`additionalProperties: false`, every key
required), so tests and schemathesis validate real responses against exactly what the
spec promises. Other API blueprints can add their paths and reuse `COMPONENTS`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from usage_api.auth import API_KEY_HEADER, RESTAURANT_HEADER
from usage_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

bp = Blueprint("openapi", __name__)

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
    "internal_error",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _strict(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_COUNT = {"type": "integer", "minimum": 0}
_TIMESTAMP = {
    "type": ["string", "null"],
    "pattern": TIMESTAMP_PATTERN,
    "description": "ISO 8601 UTC with milliseconds and Z; null when there is none",
    "examples": ["2025-10-20T15:30:00.000Z"],
}
_USAGE_PROPERTIES: dict[str, Any] = {
    "restaurantId": {"type": "string", "examples": ["clxyz123abc"]},
    "restaurantName": {"type": "string", "examples": ["Example Restaurant"]},
    "conversationsThisMonth": {
        **_COUNT,
        "description": "conversations started this calendar month (restaurant's zone)",
    },
    "lastConversationAt": {**_TIMESTAMP, "description": "start of this month's latest one"},
    "allowance": _ref("Allowance"),
    "firstActivity": {**_TIMESTAMP, "description": "first stored message, either direction"},
    "lastActivity": {**_TIMESTAMP, "description": "latest stored message, either direction"},
    "isActive": {"type": "boolean", "description": "restaurant active and bot enabled"},
}

SCHEMAS: dict[str, Any] = {
    "Allowance": _strict(
        "The bot's allowances (defaults without bot config) and what is left; never negative.",
        {
            "dailyLimit": _COUNT,
            "dailyRemaining": {**_COUNT, "description": "dailyLimit minus inbound today"},
            "monthlyLimit": _COUNT,
            "monthlyRemaining": {**_COUNT, "description": "monthlyLimit minus this month's"},
        },
    ),
    "Usage": _strict("A restaurant's usage.", _USAGE_PROPERTIES),
    "HistoryMonth": _strict(
        "One calendar month in the restaurant's zone.",
        {
            "month": {"type": "integer", "minimum": 1, "maximum": 12},
            "year": {"type": "integer"},
            "conversationCount": _COUNT,
            "lastConversationAt": _TIMESTAMP,
        },
    ),
    "UsageWithHistory": _strict(
        "A restaurant's usage and its last six calendar months, newest first.",
        {
            **_USAGE_PROPERTIES,
            "history": {"type": "array", "items": _ref("HistoryMonth"), "minItems": 6},
        },
    ),
    "Pagination": _strict(
        "Where this page is in the whole list.",
        {
            "total": _COUNT,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "offset": _COUNT,
            "hasMore": {"type": "boolean"},
        },
    ),
    "UsagePage": _strict(
        "A page of every restaurant's usage, in order of restaurant id.",
        {"data": {"type": "array", "items": _ref("Usage")}, "pagination": _ref("Pagination")},
    ),
    "Error": _strict(
        "Every error answer.",
        {
            "error": _strict(
                "What went wrong.",
                {"code": {"type": "string", "enum": ERROR_CODES}, "message": {"type": "string"}},
            )
        },
    ),
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


RESPONSES: dict[str, Any] = {
    "Unauthorized": _error(
        "`missing_credentials` or `invalid_credentials` (malformed, unknown, expired, revoked)",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}},
    ),
    "Forbidden": _error("`forbidden`: these credentials do not reach this resource"),
    "NotFound": _error("`not_found`"),
    "BadRequest": _error("`invalid_parameter` or `missing_restaurant_id`"),
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
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
    },
    "schemas": SCHEMAS,
    "responses": RESPONSES,
}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, Any] = {
    "/api/usage": {
        "get": {
            "operationId": "listUsage",
            "summary": "An owner's usage (PAT) or every restaurant's, paginated (API key)",
            "security": [{"personalAccessToken": [], "restaurantId": []}, {"adminApiKey": []}],
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "description": f"Page size (API key only); above {MAX_LIMIT} means {MAX_LIMIT}",
                    "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "description": "Restaurants to skip (API key only)",
                    "schema": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_OFFSET,
                        "default": 0,
                    },
                },
            ],
            "responses": {
                "200": _json(
                    "PAT: the token's restaurant. API key: a page of every restaurant.",
                    {"oneOf": [_ref("Usage"), _ref("UsagePage")]},
                ),
                "400": _response("BadRequest"),
                "401": _response("Unauthorized"),
                "403": _response("Forbidden"),
            },
        }
    },
    "/api/usage/{restaurantId}": {
        "get": {
            "operationId": "getRestaurantUsage",
            "summary": "One restaurant's usage and six months of history (API key only)",
            "security": [{"adminApiKey": []}],
            "parameters": [
                {
                    "name": "restaurantId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _json("The usage object plus history", _ref("UsageWithHistory")),
                "401": _response("Unauthorized"),
                "403": _response("Forbidden"),
                "404": _response("NotFound"),
            },
        }
    },
}

# The jobs and dead-letter endpoints (SPEC §9) add their paths and schemas here.
from usage_api import openapi_operations  # noqa: E402,F401

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "restaurant-bot usage API",
        "version": "1.0.0",
        "description": "Usage of restaurants' WhatsApp bots, for owners (PAT) and admins "
        '(API key). Errors are {"error": {"code", "message"}}.',
    },
    "paths": PATHS,
    "components": COMPONENTS,
}


@bp.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """Answer with the OpenAPI document (public: it holds no tenant data)."""
    return jsonify(DOCUMENT)
