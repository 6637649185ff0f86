"""The order-history import in the OpenAPI document (SPEC §13), and the schema of the
`orders` part of the insights (`OrderInsights`), for the insights part to reference."""

from __future__ import annotations

from typing import Any

from imports.requests import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from usage_api.openapi_schema import (
    COUNT,
    DENIED,
    OWNER_OR_ADMIN,
    json_content,
    ref,
    response,
    strict,
)

_AMOUNT = {
    "type": "string",
    "pattern": r"^[0-9]+(\.[0-9]+)?$",
    "description": "Exact, in major units with the currency's minor units (`35.50`, `1.250`)",
}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
_RESTAURANT_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\u0000]*$"}
_MONEY = strict("An amount in one currency.", {"currency": _CURRENCY, "amount": _AMOUNT})

SCHEMAS: dict[str, Any] = {
    "ImportRequest": {
        "type": "object",
        "description": "What to import; an admin key names the restaurant here or in the query.",
        "properties": {
            "days": {
                "type": "integer",
                "minimum": MIN_DAYS,
                "maximum": MAX_DAYS,
                "default": DEFAULT_DAYS,
                "description": "The period is the `days` × 24 hours ending now",
            },
            "restaurantId": _RESTAURANT_ID,
        },
        "additionalProperties": False,
    },
    "ImportStarted": strict(
        "The import's job; follow it at `GET /api/jobs/{jobId}`.", {"jobId": {"type": "string"}}
    ),
    "ImportRunning": strict(
        "An import of this restaurant is already queued or running.",
        {
            "error": strict(
                "`import_running`, with the unfinished import's job id.",
                {
                    "code": {"type": "string", "const": "import_running"},
                    "message": {"type": "string"},
                    "jobId": {"type": "string"},
                },
            )
        },
    ),
    "OrderInsights": {
        "description": "What sells and when, from imported orders; null until an import has"
        " ever succeeded (then zeros for an empty period).",
        "oneOf": [
            {"type": "null"},
            strict(
                "Orders of the period.",
                {
                    "count": COUNT,
                    "revenue": {"type": "array", "items": _MONEY},
                    "averageTicket": {"type": "array", "items": _MONEY},
                    "topItems": {
                        "type": "array",
                        "maxItems": 10,
                        "items": strict(
                            "A product, by quantity sold.",
                            {
                                "productId": {"type": "string"},
                                "name": {"type": "string"},
                                "quantity": COUNT,
                                "revenue": _AMOUNT,
                                "currency": _CURRENCY,
                            },
                        ),
                    },
                    "byBranch": {
                        "type": "array",
                        "items": strict(
                            "Orders of a branch (null: orders that named none).",
                            {"branchId": {"type": ["string", "null"]}, "orders": COUNT},
                        ),
                    },
                    "heatmap": {
                        "type": "array",
                        "description": "Orders per weekday (Monday first) and local hour",
                        "minItems": 7,
                        "maxItems": 7,
                        "items": {
                            "type": "array",
                            "minItems": 24,
                            "maxItems": 24,
                            "items": COUNT,
                        },
                    },
                    "repeatCustomers": COUNT,
                },
            ),
        ],
    },
}

PATHS: dict[str, Any] = {
    "/api/imports": {
        "post": {
            "operationId": "startOrderImport",
            "summary": "Import the restaurant's POS order history (SPEC §13)",
            "description": (
                "An owner imports their restaurant; an admin names it with `restaurantId`"
                " (body or query). One import at a time per restaurant."
            ),
            "security": OWNER_OR_ADMIN,
            "parameters": [
                {"name": "restaurantId", "in": "query", "schema": _RESTAURANT_ID},
            ],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": ref("ImportRequest")}},
            },
            "responses": {
                "202": json_content("Started", ref("ImportStarted")),
                "400": response("BadRequest"),
                **DENIED,
                "404": response("NotFound"),
                "409": json_content(
                    "`import_running`: an import is queued or running", ref("ImportRunning")
                ),
            },
        }
    },
}
