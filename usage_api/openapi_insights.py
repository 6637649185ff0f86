"""The insights and batches endpoints in the OpenAPI document (SPEC §12)."""

from __future__ import annotations

from typing import Any

from insights.models import BATCH_STATES
from store.periods import MAX_DAYS
from usage_api.openapi_schema import (
    ADMIN,
    COUNT,
    DENIED,
    NULLABLE_TEXT,
    OWNER_OR_ADMIN,
    PAGE_PARAMETERS,
    TIMESTAMP,
    json_content,
    ref,
    response,
    strict,
)

_DATE = {"type": "string", "format": "date", "examples": ["2025-10-14"]}
_HOURS = {"type": "array", "items": COUNT, "minItems": 24, "maxItems": 24}
# Restaurant ids never contain NUL (PostgreSQL text cannot hold it); such a filter is a 400.
_NAME = {"type": "string", "pattern": "^[^\\u0000]*$"}
_RESTAURANT = {
    "name": "restaurantId",
    "in": "query",
    "description": "The restaurant (an admin names it; an owner's may only be its own)",
    "schema": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Finding": strict(
        "A rule-based observation about the period (English).",
        {
            "kind": {
                "type": "string",
                "examples": ["peak_hours", "funnel_drop", "unrecognised"],
            },
            "severity": {"type": "string", "enum": ["info", "warning"]},
            "title": {"type": "string"},
            "text": {"type": "string"},
            "numbers": {"type": "object", "description": "the figures behind it"},
        },
    ),
    "Insights": strict(
        "A restaurant's conversation insights over local days, read from aggregates.",
        {
            "restaurantId": {"type": "string"},
            "period": strict(
                "Local calendar days, both included.",
                {"from": _DATE, "to": _DATE, "timezone": {"type": "string"}},
            ),
            "totals": strict(
                "Event counts of the period (menuShown counts every showing).",
                {
                    "conversations": COUNT,
                    "newCustomers": COUNT,
                    "returningCustomers": COUNT,
                    "messagesIn": COUNT,
                    "menuShown": COUNT,
                    "categoryOpens": COUNT,
                    "branchesShown": COUNT,
                    "branchChoices": COUNT,
                    "optOuts": COUNT,
                    "deliveryFailures": COUNT,
                },
            ),
            "funnel": {
                "type": "array",
                "description": "conversations that reached each step at least once",
                "items": strict(
                    "One funnel step.",
                    {
                        "step": {
                            "type": "string",
                            "enum": ["welcome", "menu", "category", "branch"],
                        },
                        "conversations": COUNT,
                    },
                ),
                "minItems": 4,
                "maxItems": 4,
            },
            "heatmap": {
                "type": "array",
                "description": "conversations started per weekday (Monday first) and local hour",
                "items": _HOURS,
                "minItems": 7,
                "maxItems": 7,
            },
            "categories": {
                "type": "array",
                "description": "most opened first; unopened categories of the cached menu last",
                "items": strict(
                    "A menu category and how often it was opened.",
                    {"id": {"type": "string"}, "name": NULLABLE_TEXT, "opens": COUNT},
                ),
            },
            "unrecognised": {
                "type": "array",
                "description": "what customers typed that the bot did not understand (top 10)",
                "maxItems": 10,
                "items": strict(
                    "A normalised text and how often it was typed.",
                    {"text": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
                ),
            },
            "findings": {"type": "array", "items": ref("Finding")},
            "summary": {
                **NULLABLE_TEXT,
                "description": "the LLM's summary of the default period; null otherwise",
            },
            "orders": ref("OrderInsights"),
            "freshAsOf": {**TIMESTAMP, "description": "the newest analyzed event's time"},
        },
    ),
    "Batch": strict(
        "A batch of one restaurant's events on its way into the aggregates.",
        {
            "id": {"type": "integer", "minimum": 1},
            "restaurantId": {"type": "string"},
            "status": {"type": "string", "enum": list(BATCH_STATES)},
            "events": COUNT,
            "createdAt": TIMESTAMP,
            "sealedAt": TIMESTAMP,
            "analyzedAt": TIMESTAMP,
            "jobId": NULLABLE_TEXT,
        },
    ),
    "BatchPage": strict(
        "A page of batches, newest first.",
        {"data": {"type": "array", "items": ref("Batch")}, "pagination": ref("Pagination")},
    ),
    "SealedBatches": strict(
        "The batches just sealed (their analyses are enqueued).",
        {"sealed": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
    ),
    "AnalysisJob": strict("The analysis job sent.", {"jobId": {"type": "string"}}),
}

PATHS: dict[str, Any] = {
    "/api/insights": {
        "get": {
            "operationId": "getInsights",
            "summary": "A restaurant's conversation insights over local days",
            "description": (
                "`from`/`to` are the restaurant's local dates, both included; the default "
                f"is the last 7 days (today included); at most {MAX_DAYS} days, and `from` "
                "not after `to` (else 400). An admin names the restaurant with `restaurantId`."
            ),
            "security": OWNER_OR_ADMIN,
            "parameters": [
                {"name": "from", "in": "query", "schema": _DATE},
                {"name": "to", "in": "query", "schema": _DATE},
                _RESTAURANT,
            ],
            "responses": {
                "200": json_content("The insights", ref("Insights")),
                "400": response("BadRequest"),
                **DENIED,
                "404": response("NotFound"),
            },
        }
    },
    "/api/admin/batches": {
        "get": {
            "operationId": "listBatches",
            "summary": "Insight batches, newest first (API key only)",
            "security": ADMIN,
            "parameters": [
                *PAGE_PARAMETERS,
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(BATCH_STATES)},
                },
                {"name": "restaurantId", "in": "query", "schema": _NAME},
            ],
            "responses": {
                "200": json_content("A page of batches", ref("BatchPage")),
                "400": response("BadRequest"),
                **DENIED,
            },
        }
    },
    "/api/admin/batches/seal": {
        "post": {
            "operationId": "sealBatches",
            "summary": "Seal what waits now (every restaurant's, or one's) and analyze it",
            "security": ADMIN,
            "parameters": [{**_RESTAURANT, "description": "only this restaurant's"}],
            "responses": {
                "200": json_content("The batches sealed", ref("SealedBatches")),
                **DENIED,
                "404": response("NotFound"),
            },
        }
    },
    "/api/admin/batches/{id}/analyze": {
        "post": {
            "operationId": "analyzeBatch",
            "summary": "Send an analysis job for a batch (on an analyzed one it changes nothing)",
            "security": ADMIN,
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "responses": {
                "202": json_content("The analysis job", ref("AnalysisJob")),
                **DENIED,
                "404": response("NotFound"),
                "409": response("Conflict"),
            },
        }
    },
}
