"""The usage endpoints in the OpenAPI document (SPEC §8)."""

from __future__ import annotations

from typing import Any

from usage_api.openapi_schema import (
    COUNT,
    TIMESTAMP,
    json_content,
    ref,
    response,
    strict,
)
from usage_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

_USAGE_PROPERTIES: dict[str, Any] = {
    "restaurantId": {"type": "string", "examples": ["clxyz123abc"]},
    "restaurantName": {"type": "string", "examples": ["Example Restaurant"]},
    "conversationsThisMonth": {
        **COUNT,
        "description": "conversations started this calendar month (restaurant's zone)",
    },
    "lastConversationAt": {**TIMESTAMP, "description": "start of this month's latest one"},
    "allowance": ref("Allowance"),
    "firstActivity": {**TIMESTAMP, "description": "first stored message, either direction"},
    "lastActivity": {**TIMESTAMP, "description": "latest stored message, either direction"},
    "isActive": {"type": "boolean", "description": "restaurant active and bot enabled"},
}

SCHEMAS: dict[str, Any] = {
    "Allowance": strict(
        "The bot's allowances (defaults without bot config) and what is left; never negative.",
        {
            "dailyLimit": COUNT,
            "dailyRemaining": {**COUNT, "description": "dailyLimit minus inbound today"},
            "monthlyLimit": COUNT,
            "monthlyRemaining": {**COUNT, "description": "monthlyLimit minus this month's"},
        },
    ),
    "Usage": strict("A restaurant's usage.", _USAGE_PROPERTIES),
    "HistoryMonth": strict(
        "One calendar month in the restaurant's zone.",
        {
            "month": {"type": "integer", "minimum": 1, "maximum": 12},
            "year": {"type": "integer"},
            "conversationCount": COUNT,
            "lastConversationAt": TIMESTAMP,
        },
    ),
    "UsageWithHistory": strict(
        "A restaurant's usage and its last six calendar months, newest first.",
        {
            **_USAGE_PROPERTIES,
            "history": {"type": "array", "items": ref("HistoryMonth"), "minItems": 6},
        },
    ),
    "UsagePage": strict(
        "A page of every restaurant's usage, in order of restaurant id.",
        {"data": {"type": "array", "items": ref("Usage")}, "pagination": ref("Pagination")},
    ),
}

PATHS: dict[str, Any] = {
    "/api/usage": {
        "get": {
            "operationId": "listUsage",
            "summary": "An owner's usage (PAT) or every restaurant's, paginated (API key)",
            "security": [{"personalAccessToken": [], "restaurantId": []}, {"adminApiKey": []}],
            # A PAT call ignores limit/offset whatever they hold (SPEC §8), so the
            # document cannot promise integers here: with an API key they are checked.
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "description": (
                        f"API key: the page size, an integer of 1 or more (above {MAX_LIMIT}"
                        f" means {MAX_LIMIT}; default {DEFAULT_LIMIT}); anything else is 400"
                        " `invalid_parameter`. PAT: ignored, whatever it holds."
                    ),
                    "schema": {"type": "string", "examples": [str(DEFAULT_LIMIT)]},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "description": (
                        f"API key: restaurants to skip, an integer from 0 to {MAX_OFFSET}"
                        " (default 0); anything else is 400 `invalid_parameter`."
                        " PAT: ignored, whatever it holds."
                    ),
                    "schema": {"type": "string", "examples": ["0"]},
                },
            ],
            "responses": {
                "200": json_content(
                    "PAT: the token's restaurant. API key: a page of every restaurant.",
                    {"oneOf": [ref("Usage"), ref("UsagePage")]},
                ),
                "400": response("BadRequest"),
                "401": response("Unauthorized"),
                "403": response("Forbidden"),
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
                "200": json_content("The usage object plus history", ref("UsageWithHistory")),
                "401": response("Unauthorized"),
                "403": response("Forbidden"),
                "404": response("NotFound"),
            },
        }
    },
}
