"""JSON errors for the API and webhooks: `{"error": {"code", "message"}}` (SPEC §8)."""

from __future__ import annotations

import io
import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

# HTTP status -> the spec's error code, for errors raised by Flask/Werkzeug themselves.
_CODES = {
    400: "invalid_parameter",
    401: "invalid_credentials",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "invalid_parameter",
    500: "internal_error",
}


# Errors that mean a backing service is down, not that the request or the code is wrong.
_UNREACHABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OperationalError,
)


class ApiError(Exception):
    """An error answer: HTTP status, the spec's code, a human message, optional headers,
    and `extra` fields some codes add to the error object (`import_running`'s `jobId`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Return the JSON error body with `status` (`extra` fields after code and message)."""
    response = jsonify({"error": {"code": code, "message": message, **(extra or {})}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.headers, extra=error.extra)


def _handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    code = _CODES.get(status, "internal_error" if status >= 500 else "invalid_parameter")
    message = error.description or error.name
    if status == 413:
        message = "request body is larger than 64 KiB"
    elif status == 404:
        message = f"no such endpoint: {request.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    return error_response(status, code, message, headers)


def _handle_unreachable(error: Exception) -> Response:
    # Redis or the database is down or timing out: the client may try again shortly.
    logger.error("%s %s: a backing service is unreachable: %s", request.method, request.path, error)
    return error_response(
        503,
        "unavailable",
        "a backing service (Redis or the database) is unreachable; try again shortly",
        {"Retry-After": "5"},
    )


def _handle_unexpected(error: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal error; it has been logged")


def _refuse_large_bodies() -> Response | None:
    # Checked before routing, so an oversized body is refused before it is read.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        if request.content_length > limit:
            return error_response(413, "payload_too_large", "request body is larger than 64 KiB")
        return None
    if "wsgi.input_terminated" in request.environ:
        # A chunked body has no length up front: Werkzeug would cut it silently at the
        # limit, so it is read here (at most one byte past the limit) and measured.
        body = _read_at_most(request.environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            return error_response(413, "payload_too_large", "request body is larger than 64 KiB")
        request.environ["wsgi.input"] = io.BytesIO(body)
        request.environ["CONTENT_LENGTH"] = str(len(body))
    return None


def _read_at_most(stream: Any, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def init_app(app: Flask) -> None:
    """Register the JSON error handlers and the body-size check."""
    app.before_request(_refuse_large_bodies)
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    for unreachable in _UNREACHABLE:
        app.register_error_handler(unreachable, _handle_unreachable)
    app.register_error_handler(Exception, _handle_unexpected)
