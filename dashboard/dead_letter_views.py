"""Dead letters: filter by actor, restaurant, error class and time; retry or delete one,
the selected, or every match after a preview of the count and a confirmation.

The list reads the same function as `GET /api/admin/dead-letters` (the SQL index); the
actions are the API's own (`retry_letter`, `delete_letter`, `settle_in_bulk`), with the
same `expect` guard: a bulk action whose selection changed since its preview does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from cachetools import TTLCache
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from actors.dead_letter_bulk import BulkBusy, StaleSelection, settle_in_bulk
from actors.dead_letters import delete_letter, list_letters, retry_letter
from bot.context import runtime
from bot.runtime import Runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import form_time, form_time_text, page_number
from dashboard.security import action, operators_only, signed_in
from operations import dead_letter_index
from operations.dead_letter_index import FILTER_KEYS, DeadLetterFilter, FilterError

PAGE_SIZE = 50
# Past this many matches the list says "10,000+"; the bulk preview counts them exactly.
COUNT_LIMIT = 10_000
NOTICES = {
    "retry": "{count:,} dead letter(s) put back on their queues; their jobs are queued again.",
    "delete": "{count:,} dead letter(s) deleted for good.",
}


@bp.get("/admin/dead-letters")
@operators_only
def dead_letter_list() -> ResponseReturnValue:
    """Show the matching dead letters, newest first, with what can be done to them."""
    letters = letter_filter(request.args)
    number = page_number(request.args)
    current = runtime()
    total, found = list_letters(
        current,
        offset=(number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        letters=letters,
        count_limit=COUNT_LIMIT,
    )
    error_classes, actors = _facets(current)
    return render_template(
        "admin/dead_letters.html",
        letters=found,
        total=min(total, COUNT_LIMIT),
        capped=total > COUNT_LIMIT,
        filter=letters,
        query=_query(letters),
        error_classes=error_classes,
        actors=actors,
        page_number=number,
        pages=max(1, -(-min(total, COUNT_LIMIT) // PAGE_SIZE)),
        notice=_notice(request.args),
        after=form_time_text(letters.after),
        before=form_time_text(letters.before),
    )


@bp.get("/admin/dead-letters/confirm")
@operators_only
def dead_letter_preview() -> ResponseReturnValue:
    """Preview a bulk action on every match: how many letters, a sample, a confirmation."""
    what = _action(request.args)
    letters = letter_filter(request.args)
    total, sample = list_letters(runtime(), offset=0, limit=10, letters=letters)
    who = signed_in()
    return render_template(
        "admin/dead_letters_confirm.html",
        action=what,
        filter=letters,
        fields=letters.to_json(),
        total=total,
        sample=sample,
        query=_query(letters),
        read_only=who is not None and not who.can_act,
    )


@bp.post("/admin/dead-letters/bulk")
@action
@operators_only
def dead_letter_bulk() -> ResponseReturnValue:
    """Retry or delete every match, if the count is still the one previewed."""
    what = _action(request.form)
    letters = letter_filter(request.form)
    expect = _expect(request.form)
    return _settle(what, letters, expect, back=_query(letters))


@bp.post("/admin/dead-letters/selected")
@action
@operators_only
def dead_letter_selected() -> ResponseReturnValue:
    """Retry or delete the letters ticked on the page."""
    what = _action(request.form)
    ids = list(dict.fromkeys(request.form.getlist("ids")))
    if not ids:
        raise PageError(400, "invalid_parameter", "Tick at least one dead letter first.")
    if len(ids) > 1000 or any(len(i) > 64 for i in ids):
        raise PageError(400, "invalid_parameter", "Too many or malformed ids.")
    return _settle(what, ids, len(ids), back=request.form.get("back", ""))


@bp.post("/admin/dead-letters/<letter_id>/<any(retry, delete):what>")
@action
@operators_only
def dead_letter_one(letter_id: str, what: str) -> ResponseReturnValue:
    """Retry or delete one dead letter."""
    who = signed_in()
    assert who is not None
    settle = retry_letter if what == "retry" else delete_letter
    if not settle(runtime(), letter_id, by=who.prefix):
        raise PageError(
            404,
            "not_found",
            "That dead letter is gone already (replayed, deleted or expired). Nothing was done.",
        )
    return _back(request.form.get("back", ""), what, 1)


def _facets(current: Runtime) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Return the commonest error classes and actors with their counts: quick filters,
    kept `FACETS_TTL_S` per process (counting 100,000 letters on every page would cost
    more than the rest of it; the count of the filter itself is always exact)."""
    key = str(current.engine.url)
    with _FACETS_LOCK:
        found = _FACETS.get(key)
    if found is None:
        with current.read_transaction() as session:
            found = (
                dead_letter_index.facets(session, "error_class"),
                dead_letter_index.facets(session, "actor"),
            )
        with _FACETS_LOCK:
            _FACETS[key] = found
    return found


def forget_quick_filters() -> None:
    """Drop the kept quick filters (tests)."""
    with _FACETS_LOCK:
        _FACETS.clear()


FACETS_TTL_S = 30
_FACETS: TTLCache[str, Any] = TTLCache(maxsize=8, ttl=FACETS_TTL_S)
_FACETS_LOCK = threading.Lock()


def letter_filter(args: Mapping[str, str]) -> DeadLetterFilter:
    """Return the filter of a form or query (times without a zone are UTC).

    Raises:
      PageError: 400 for a malformed value.
    """
    values = {key: (args.get(key) or "").strip() for key in FILTER_KEYS}
    for name in ("after", "before"):
        moment = form_time(values, name)
        values[name] = moment.isoformat() if moment is not None else ""
    try:
        return DeadLetterFilter.parse(values)
    except FilterError as error:
        raise PageError(400, "invalid_parameter", str(error)) from None


def _settle(
    what: Literal["retry", "delete"],
    selection: DeadLetterFilter | list[str],
    expect: int,
    *,
    back: str,
) -> ResponseReturnValue:
    who = signed_in()
    assert who is not None
    try:
        outcome = settle_in_bulk(runtime(), what, selection, expect=expect, by=who.prefix)
    except StaleSelection as stale:
        again = url_for("dashboard.dead_letter_preview") + "?" + _with(back, action=what)
        raise PageError(
            409,
            "conflict",
            f"You previewed {stale.expected:,} dead letter(s); {stale.matched:,} match now"
            " (some were added, retried, deleted or expired meanwhile). Nothing was done.",
            title="The selection changed",
            next_step=(again, "Preview the selection again"),
        ) from None
    except BulkBusy as busy:
        raise PageError(
            409, "conflict", str(busy), title="Another bulk action is running"
        ) from None
    return _back(back, what, outcome.done)


def _back(query: str, what: str, count: int) -> ResponseReturnValue:
    target = url_for("dashboard.dead_letter_list") + "?" + _with(query, done=what, count=count)
    return redirect(target, 302)


def _with(query: str, **extra: object) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query) if k in FILTER_KEYS]
    return urlencode(pairs + [(k, str(v)) for k, v in extra.items()])


def _query(letters: DeadLetterFilter) -> str:
    return urlencode(letters.to_json())


def _action(args: Mapping[str, str]) -> Literal["retry", "delete"]:
    what = args.get("action")
    if what == "retry":
        return "retry"
    if what == "delete":
        return "delete"
    raise PageError(400, "invalid_parameter", "action must be retry or delete")


def _expect(args: Mapping[str, str]) -> int:
    raw = args.get("expect", "")
    if not (raw.isascii() and raw.isdigit()):
        raise PageError(
            400, "invalid_parameter", "expect (the previewed count) is missing: preview again"
        )
    return int(raw)


def _notice(args: Mapping[str, str]) -> str | None:
    done, count = args.get("done"), args.get("count", "")
    if done in NOTICES and count.isascii() and count.isdigit():
        return NOTICES[done].format(count=int(count))
    return None
