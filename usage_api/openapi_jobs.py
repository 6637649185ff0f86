"""The jobs, metrics and dead-letter endpoints in the OpenAPI document (SPEC §9)."""

from __future__ import annotations

from typing import Any

from store.jobs import JOB_STATES
from usage_api.openapi_schema import (
    ADMIN,
    COUNT,
    DEAD_LETTER_FILTERS,
    DENIED,
    NULLABLE_TEXT,
    OWNER_OR_ADMIN,
    PAGE_PARAMETERS,
    TIME_OR_DATE,
    TIMESTAMP,
    json_content,
    ref,
    response,
    strict,
)

# Names and ids never contain NUL (PostgreSQL text cannot hold it); such a filter is a 400.
_NAME = {"type": "string", "pattern": "^[^\\u0000]*$"}
_STATUS = {"type": "string", "enum": list(JOB_STATES)}

SCHEMAS: dict[str, Any] = {
    "Job": strict(
        "A tracked background job; its id is the Dramatiq message id.",
        {
            "id": {"type": "string"},
            "actor": {"type": "string"},
            "restaurantId": NULLABLE_TEXT,
            "status": _STATUS,
            "attempts": COUNT,
            "progress": strict(
                "What the job reported so far.",
                {"done": COUNT, "total": COUNT, "step": NULLABLE_TEXT},
            ),
            "result": {"type": ["object", "null"]},
            "error": NULLABLE_TEXT,
            "createdAt": TIMESTAMP,
            "startedAt": TIMESTAMP,
            "finishedAt": TIMESTAMP,
        },
    ),
    "JobPage": strict(
        "A page of jobs, newest first.",
        {"data": {"type": "array", "items": ref("Job")}, "pagination": ref("Pagination")},
    ),
    "JobStats": strict(
        "Job counts and the oldest queued job.",
        {
            "byStatus": {"type": "object", "additionalProperties": COUNT},
            "byActor": {
                "type": "object",
                "additionalProperties": {"type": "object", "additionalProperties": COUNT},
            },
            "oldestQueued": strict(
                "The oldest job still queued; nulls when none is.",
                {
                    "createdAt": TIMESTAMP,
                    "ageSeconds": {"type": ["number", "null"], "minimum": 0},
                },
            ),
        },
    ),
    "DeadLetter": strict(
        "A message whose retries ran out (or that failed for good).",
        {
            "id": {"type": "string", "description": "the Dramatiq message id (= job id)"},
            "queue": {"type": "string"},
            "actor": {"type": "string"},
            "args": strict(
                "What the message was sent with.",
                {"args": {"type": "array"}, "kwargs": {"type": "object"}},
            ),
            "restaurantId": NULLABLE_TEXT,
            "attempts": {"type": "integer", "minimum": 1},
            "lastError": NULLABLE_TEXT,
            "deadLetteredAt": TIMESTAMP,
            "errorClass": {
                "type": "string",
                "description": "the final error's exception class; Twilio failures as"
                " `TwilioError:<code>`",
                "examples": ["CatalogUnavailable", "TwilioError:63016"],
            },
        },
    ),
    "DeadLetterPage": strict(
        "A page of dead letters, most recently dead first.",
        {
            "data": {"type": "array", "items": ref("DeadLetter")},
            "pagination": ref("Pagination"),
        },
    ),
    "OperationsMetrics": strict(
        "What an operator looks at; a part is null when its store was unreachable.",
        {
            "generatedAt": TIMESTAMP,
            "broker": {"type": "string"},
            "unavailable": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["queues", "jobs", "breakers", "cache", "workers", "batches"],
                },
            },
            "queues": {
                "type": ["object", "null"],
                "description": "per queue: ready, delayed, dead (and in flight on Redis)",
                "additionalProperties": {"type": "object", "additionalProperties": COUNT},
            },
            "deadLetters": {"type": ["integer", "null"], "minimum": 0},
            "jobs": {"oneOf": [ref("JobStats"), {"type": "null"}]},
            "oldestQueuedJob": {"type": ["object", "null"]},
            "breakers": {
                "type": ["object", "null"],
                "description": "merchants whose catalog breaker is open or half open",
            },
            "cache": {"type": ["object", "null"], "description": "hit rates per tier"},
            "workers": {
                "type": ["array", "null"],
                "description": "broker heartbeats (Redis broker; null on RabbitMQ)",
                "items": {"type": "object"},
            },
            "batches": {
                "oneOf": [
                    strict(
                        "Insight batches by status (open: restaurants with events waiting).",
                        {"open": COUNT, "sealed": COUNT, "analyzed": COUNT},
                    ),
                    {"type": "null"},
                ]
            },
        },
    ),
    "Requeued": strict(
        "A dead letter put back on its queue.",
        {"id": {"type": "string"}, "status": {"type": "string", "const": "requeued"}},
    ),
}

_FILTERS = [
    {"name": "status", "in": "query", "schema": _STATUS},
    {"name": "actor", "in": "query", "schema": _NAME},
    {
        "name": "after",
        "in": "query",
        "description": "created at or after this time: ISO 8601 with an offset, or a date"
        " (midnight UTC); empty means any; anything else is 400",
        "schema": {"anyOf": TIME_OR_DATE, "examples": ["2025-10-20T15:30:00Z"]},
    },
    {
        "name": "before",
        "in": "query",
        "description": "created before this time (as `after`)",
        "schema": {"anyOf": TIME_OR_DATE, "examples": ["2025-10-21T00:00:00Z"]},
    },
]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}

PATHS: dict[str, Any] = {
    "/api/jobs": {
        "get": {
            "operationId": "listJobs",
            "summary": "The owner's restaurant's recent jobs (an admin: every job)",
            "security": OWNER_OR_ADMIN,
            "parameters": PAGE_PARAMETERS + _FILTERS,
            "responses": {
                "200": json_content("A page of jobs", ref("JobPage")),
                "400": response("BadRequest"),
                **DENIED,
            },
        }
    },
    "/api/jobs/{id}": {
        "get": {
            "operationId": "getJob",
            "summary": "One job; another restaurant's is 404 to an owner",
            "security": OWNER_OR_ADMIN,
            "parameters": [_ID],
            "responses": {
                "200": json_content("The job", ref("Job")),
                "400": response("BadRequest"),
                **DENIED,
                "404": response("NotFound"),
            },
        }
    },
    "/api/admin/jobs": {
        "get": {
            "operationId": "listAllJobs",
            "summary": "Every job, filtered (API key only)",
            "description": "Newest first; by status, actor, restaurant and a window of creation"
            " times (`after` inclusive, `before` exclusive).",
            "security": ADMIN,
            "parameters": [
                *PAGE_PARAMETERS,
                *_FILTERS,
                {"name": "restaurant", "in": "query", "schema": _NAME},
            ],
            "responses": {
                "200": json_content("A page of jobs", ref("JobPage")),
                "400": response("BadRequest"),
                **DENIED,
            },
        }
    },
    "/api/admin/jobs/stats": {
        "get": {
            "operationId": "getJobStats",
            "summary": "Job counts by status and actor, oldest queued job (API key only)",
            "security": ADMIN,
            "responses": {"200": json_content("The counts", ref("JobStats")), **DENIED},
        }
    },
    "/api/admin/metrics": {
        "get": {
            "operationId": "getOperationsMetrics",
            "summary": "Queues, jobs, dead letters, breakers, cache, workers (API key only)",
            "description": (
                "Each part is read on its own: a part whose store (Redis, the database)"
                " is unreachable is null and named in `unavailable`."
            ),
            "security": ADMIN,
            "responses": {
                "200": json_content("The operations snapshot", ref("OperationsMetrics")),
                **DENIED,
            },
        }
    },
    "/api/admin/dead-letters": {
        "get": {
            "operationId": "listDeadLetters",
            "summary": "Dead letters, newest first, filtered (API key only; Redis broker)",
            "security": ADMIN,
            "parameters": PAGE_PARAMETERS + DEAD_LETTER_FILTERS,
            "responses": {
                "200": json_content("A page of dead letters", ref("DeadLetterPage")),
                "400": response("BadRequest"),
                **DENIED,
            },
        }
    },
    "/api/admin/dead-letters/{id}/retry": {
        "post": {
            "operationId": "retryDeadLetter",
            "summary": "Put a dead letter back on its queue, once (API key only)",
            "security": ADMIN,
            "parameters": [_ID],
            "responses": {
                "202": json_content("Requeued; its job is queued again", ref("Requeued")),
                **DENIED,
                "404": response("NotFound"),
            },
        }
    },
    "/api/admin/dead-letters/{id}": {
        "delete": {
            "operationId": "deleteDeadLetter",
            "summary": "Drop a dead letter for good (API key only)",
            "security": ADMIN,
            "parameters": [_ID],
            "responses": {
                "204": {"description": "Deleted"},
                **DENIED,
                "404": response("NotFound"),
            },
        }
    },
}
