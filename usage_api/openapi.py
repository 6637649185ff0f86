"""`GET /api/openapi.json`: the OpenAPI 3.1 description of the REST API (no auth).

The document is assembled here from part modules, one per area of the API; each part
exposes `PATHS` and `SCHEMAS` built from `usage_api.openapi_schema` and imports nothing
back. A new area adds its module to `PARTS`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from usage_api import (
    openapi_alerts,
    openapi_imports,
    openapi_insights,
    openapi_jobs,
    openapi_operators,
    openapi_usage,
)
from usage_api.openapi_schema import RESPONSES, SCHEMAS, SECURITY_SCHEMES

bp = Blueprint("openapi", __name__)

PARTS: tuple[ModuleType, ...] = (
    openapi_usage,
    openapi_jobs,
    openapi_operators,
    openapi_imports,
    openapi_insights,
    openapi_alerts,
)


def build_document(parts: tuple[ModuleType, ...] = PARTS) -> dict[str, Any]:
    """Return the OpenAPI document of `parts`.

    Raises:
      ValueError: If two parts declare the same path or schema name.
    """
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(SCHEMAS)
    for part in parts:
        for target, extra in ((paths, part.PATHS), (schemas, part.SCHEMAS)):
            clash = target.keys() & extra.keys()
            if clash:
                raise ValueError(f"{part.__name__} declares {sorted(clash)} again")
            target.update(extra)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "restaurant-bot API",
            "version": "1.0.0",
            "description": "Usage, jobs and operations of restaurants' WhatsApp bots, for "
            'owners (PAT) and admins (API key). Errors are {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": schemas,
            "responses": RESPONSES,
        },
    }


DOCUMENT: dict[str, Any] = build_document()


@bp.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """Answer with the OpenAPI document (public: it holds no tenant data)."""
    return jsonify(DOCUMENT)
