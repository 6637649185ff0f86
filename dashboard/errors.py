"""What the dashboard answers when something goes wrong: a page (or, for the JSON that
pages poll, the API's error body) that says what happened and changes nothing."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from actors.dead_letter_store import DeadLettersUnsupported
from bot.errors import ApiError

logger = logging.getLogger(__name__)

_TITLES = {
    400: "That request could not be used",
    401: "Sign-in failed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Nothing was done",
    429: "Too many failed sign-ins",
    501: "Not available with this broker",
    503: "A backing service is down",
}


class PageError(Exception):
    """An error page: HTTP status, the API's error code, what to tell the person."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        next_step: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.title = title or _TITLES.get(status, "Something went wrong")
        self.headers = headers or {}
        # (address, words) of what to do next, e.g. preview the selection again.
        self.next_step = next_step


def wants_json() -> bool:
    """Return True for the JSON endpoints that pages poll (`….json`)."""
    return request.path.endswith(".json")


def render_error(error: PageError) -> Response:
    """Return the error as a page, or as the API's JSON error body for `….json`."""
    if wants_json():
        answer = jsonify({"error": {"code": error.code, "message": error.message}})
    else:
        answer = Response(
            render_template("error.html", error=error), mimetype="text/html; charset=utf-8"
        )
    answer.status_code = error.status
    for name, value in error.headers.items():
        answer.headers[name] = value
    return answer


def _page_error(error: PageError) -> ResponseReturnValue:
    return render_error(error)


def _api_error(error: ApiError) -> ResponseReturnValue:
    return render_error(PageError(error.status, error.code, error.message, headers=error.headers))


def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_parameter")
    message = {
        404: "There is no such page. Use the menu above to find your way.",
        405: "This address does not take that kind of request.",
    }.get(status, error.description or error.name)
    return render_error(PageError(status, code, message))


def _redis_down(error: Exception) -> ResponseReturnValue:
    logger.error("%s %s: Redis is unreachable: %s", request.method, request.path, error)
    return render_error(
        PageError(
            503,
            "unavailable",
            "Redis is unreachable, so this page cannot be shown and nothing was changed."
            " Check the Redis server (REDIS_URL), then reload.",
            title="Redis is unreachable",
            headers={"Retry-After": "5"},
        )
    )


def _database_down(error: Exception) -> ResponseReturnValue:
    logger.error("%s %s: the database is unreachable: %s", request.method, request.path, error)
    return render_error(
        PageError(
            503,
            "unavailable",
            "The database is unreachable, so this page cannot be shown and nothing was"
            " changed. Check the database server (DATABASE_URL), then reload.",
            title="The database is unreachable",
            headers={"Retry-After": "5"},
        )
    )


def _no_dead_letters(error: DeadLettersUnsupported) -> ResponseReturnValue:
    return render_error(
        PageError(
            501,
            "not_implemented",
            "This deployment runs its jobs on RabbitMQ, whose dead letters cannot be listed"
            " or replayed here: use the RabbitMQ management UI.",
        )
    )


def _unexpected(error: Exception) -> ResponseReturnValue:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(
        PageError(
            500,
            "internal_error",
            "Something went wrong on our side; it has been logged. Nothing was changed.",
            title="Internal error",
        )
    )


def register(bp: Blueprint) -> None:
    """Install the dashboard's error pages on its blueprint."""
    bp.register_error_handler(PageError, _page_error)
    bp.register_error_handler(ApiError, _api_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(DeadLettersUnsupported, _no_dead_letters)
    bp.register_error_handler(redis.RedisError, _redis_down)
    bp.register_error_handler(OperationalError, _database_down)
    bp.register_error_handler(InterfaceError, _database_down)
    bp.register_error_handler(Exception, _unexpected)
