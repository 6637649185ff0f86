"""The jobs and dead-letter endpoints in the OpenAPI document (SPEC §9).

Imported at the end of `usage_api.openapi`, whose `PATHS` and `SCHEMAS` it extends, so the
one document (and the schemathesis tests that read it) covers them too. Metrics are left
out: their JSON is an operator's view, not a contract.
"""

from __future__ import annotations

from store.jobs import JOB_STATES
from usage_api.openapi import _COUNT as COUNT
from usage_api.openapi import _TIMESTAMP as TIMESTAMP
from usage_api.openapi import PATHS, SCHEMAS
from usage_api.openapi import _json as json_content
from usage_api.openapi import _ref as ref
from usage_api.openapi import _response as response
from usage_api.openapi import _strict as strict
from usage_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

_NULLABLE_TEXT = {"type": ["string", "null"]}
# Names and ids never contain NUL (PostgreSQL text cannot hold it); such a filter is a 400.
_NAME = {"type": "string", "pattern": "^[^\\u0000]*$"}
_STATUS = {"type": "string", "enum": list(JOB_STATES)}

SCHEMAS.update(
    {
        "Job": strict(
            "A tracked background job; its id is the Dramatiq message id.",
            {
                "id": {"type": "string"},
                "actor": {"type": "string"},
                "restaurantId": _NULLABLE_TEXT,
                "status": _STATUS,
                "attempts": COUNT,
                "progress": strict(
                    "What the job reported so far.",
                    {"done": COUNT, "total": COUNT, "step": _NULLABLE_TEXT},
                ),
                "result": {"type": ["object", "null"]},
                "error": _NULLABLE_TEXT,
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
                "restaurantId": _NULLABLE_TEXT,
                "attempts": {"type": "integer", "minimum": 1},
                "lastError": _NULLABLE_TEXT,
                "deadLetteredAt": TIMESTAMP,
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
                        "enum": ["queues", "jobs", "breakers", "cache", "workers"],
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
            },
        ),
        "Requeued": strict(
            "A dead letter put back on its queue.",
            {"id": {"type": "string"}, "status": {"type": "string", "const": "requeued"}},
        ),
    }
)

_PAGE_PARAMETERS = [
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
_FILTERS = [
    {"name": "status", "in": "query", "schema": _STATUS},
    {"name": "actor", "in": "query", "schema": _NAME},
]
_OWNER_OR_ADMIN: list[dict[str, list[str]]] = [
    {"personalAccessToken": [], "restaurantId": []},
    {"adminApiKey": []},
]
_ADMIN: list[dict[str, list[str]]] = [{"adminApiKey": []}]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_DENIED = {
    "401": response("Unauthorized"),
    "403": response("Forbidden"),
}

PATHS.update(
    {
        "/api/jobs": {
            "get": {
                "operationId": "listJobs",
                "summary": "The owner's restaurant's recent jobs (an admin: every job)",
                "security": _OWNER_OR_ADMIN,
                "parameters": _PAGE_PARAMETERS + _FILTERS,
                "responses": {
                    "200": json_content("A page of jobs", ref("JobPage")),
                    "400": response("BadRequest"),
                    **_DENIED,
                },
            }
        },
        "/api/jobs/{id}": {
            "get": {
                "operationId": "getJob",
                "summary": "One job; another restaurant's is 404 to an owner",
                "security": _OWNER_OR_ADMIN,
                "parameters": [_ID],
                "responses": {
                    "200": json_content("The job", ref("Job")),
                    "400": response("BadRequest"),
                    **_DENIED,
                    "404": response("NotFound"),
                },
            }
        },
        "/api/admin/jobs": {
            "get": {
                "operationId": "listAllJobs",
                "summary": "Every job, filtered (API key only)",
                "security": _ADMIN,
                "parameters": [
                    *_PAGE_PARAMETERS,
                    *_FILTERS,
                    {"name": "restaurant", "in": "query", "schema": _NAME},
                ],
                "responses": {
                    "200": json_content("A page of jobs", ref("JobPage")),
                    "400": response("BadRequest"),
                    **_DENIED,
                },
            }
        },
        "/api/admin/jobs/stats": {
            "get": {
                "operationId": "getJobStats",
                "summary": "Job counts by status and actor, oldest queued job (API key only)",
                "security": _ADMIN,
                "responses": {"200": json_content("The counts", ref("JobStats")), **_DENIED},
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
                "security": _ADMIN,
                "responses": {
                    "200": json_content("The operations snapshot", ref("OperationsMetrics")),
                    **_DENIED,
                },
            }
        },
        "/api/admin/dead-letters": {
            "get": {
                "operationId": "listDeadLetters",
                "summary": "Dead letters, newest first (API key only; Redis broker)",
                "security": _ADMIN,
                "parameters": _PAGE_PARAMETERS,
                "responses": {
                    "200": json_content("A page of dead letters", ref("DeadLetterPage")),
                    "400": response("BadRequest"),
                    **_DENIED,
                },
            }
        },
        "/api/admin/dead-letters/{id}/retry": {
            "post": {
                "operationId": "retryDeadLetter",
                "summary": "Put a dead letter back on its queue, once (API key only)",
                "security": _ADMIN,
                "parameters": [_ID],
                "responses": {
                    "202": json_content("Requeued; its job is queued again", ref("Requeued")),
                    **_DENIED,
                    "404": response("NotFound"),
                },
            }
        },
        "/api/admin/dead-letters/{id}": {
            "delete": {
                "operationId": "deleteDeadLetter",
                "summary": "Drop a dead letter for good (API key only)",
                "security": _ADMIN,
                "parameters": [_ID],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_DENIED,
                    "404": response("NotFound"),
                },
            }
        },
    }
)
