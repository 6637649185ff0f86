"""Reading a page's filter form: times as the form sends them, names, job statuses."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from dashboard.errors import PageError
from operations.dead_letter_index import FilterError, parse_time

# `<input type="datetime-local">` sends a time without a zone; the pages say it is UTC.
_LOCAL = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$")


def form_time(args: Mapping[str, str], name: str) -> dt.datetime | None:
    """Return the time of a form field (UTC when it has no zone), or None when blank.

    Raises:
      PageError: 400 `invalid_parameter` for anything that is not an ISO 8601 time.
    """
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if _LOCAL.match(value):
        value += "Z"
    try:
        return parse_time(name, value)
    except FilterError as error:
        raise PageError(400, "invalid_parameter", str(error)) from None


def form_text(args: Mapping[str, str], name: str) -> str | None:
    """Return a text field, stripped, or None when blank.

    Raises:
      PageError: 400 for a value no name or id can have.
    """
    value = (args.get(name) or "").strip()
    if len(value) > 200 or "\x00" in value:
        raise PageError(400, "invalid_parameter", f"{name} is not a valid value")
    return value or None


def form_time_text(moment: dt.datetime | None) -> str:
    """Return a time as a `datetime-local` field shows it (UTC, to the minute)."""
    return "" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def page_number(args: Mapping[str, str]) -> int:
    """Return the `page` argument (1 when absent).

    Raises:
      PageError: 400 for anything but a whole number from 1.
    """
    raw = args.get("page") or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1_000_000:
        raise PageError(400, "invalid_parameter", "page must be a whole number from 1")
    return int(raw)
