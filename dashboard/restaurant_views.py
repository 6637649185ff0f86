"""Every restaurant's usage: sortable by each column, searchable, paginated, and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping

from flask import Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from bot.context import runtime
from dashboard.blueprint import bp
from dashboard.errors import PageError
from dashboard.filters import page_number
from dashboard.security import operators_only
from store import usage
from store.restaurants import timezones_of
from store.timeutil import iso_z
from store.usage import USAGE_FIELDS, UsageOrder
from store.usage_values import RestaurantUsage
from usage_api.clock import request_now

PAGE_SIZE = 50
CSV_CHUNK = 500
# SPEC §14: the CSV has the usage object's fields, flattened, in its order.
CSV_COLUMNS = USAGE_FIELDS
# A spreadsheet runs a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")


@bp.get("/admin/restaurants")
@operators_only
def restaurant_list() -> ResponseReturnValue:
    """Show one page of restaurants' usage, sorted and searched as asked."""
    order, search = _order_and_search(request.args)
    number = page_number(request.args)
    current = runtime()
    with current.read_transaction() as session:
        found = usage.usage_page(
            session,
            current.settings,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            now=request_now(),
            order=order,
            search=search,
        )
        zones = timezones_of(session, [item.restaurant_id for item in found.items])
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render_template(
        "admin/restaurants.html",
        page=found,
        zones=zones,
        order=order,
        search=search or "",
        page_number=number,
        pages=pages,
        columns=USAGE_FIELDS,
    )


@bp.get("/admin/restaurants.csv")
@operators_only
def restaurant_csv() -> ResponseReturnValue:
    """Stream every matching restaurant's usage as CSV, in the page's order."""
    order, search = _order_and_search(request.args)
    current = runtime()
    now = request_now()

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        offset = 0
        while True:
            with current.read_transaction() as session:
                chunk = usage.usage_page(
                    session,
                    current.settings,
                    limit=CSV_CHUNK,
                    offset=offset,
                    now=now,
                    order=order,
                    search=search,
                )
            for item in chunk.items:
                writer.writerow([_cell(value) for value in csv_row(item)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            offset += CSV_CHUNK
            if offset >= chunk.total or not chunk.items:
                return

    stamp = now.strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="restaurants-{stamp}.csv"'},
    )


def csv_row(item: RestaurantUsage) -> list[str | int]:
    """Return the usage object flattened into the CSV's columns."""
    allowance = item.allowance
    return [
        item.restaurant_id,
        item.restaurant_name,
        item.conversations_this_month,
        iso_z(item.last_conversation_at) or "",
        allowance.daily_limit,
        allowance.daily_remaining,
        allowance.monthly_limit,
        allowance.monthly_remaining,
        iso_z(item.first_activity) or "",
        iso_z(item.last_activity) or "",
        "true" if item.is_active else "false",
    ]


def _cell(value: str | int) -> str | int:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _order_and_search(args: Mapping[str, str]) -> tuple[UsageOrder, str | None]:
    field = args.get("sort") or "restaurantId"
    direction = args.get("order") or "asc"
    if direction not in ("asc", "desc"):
        raise PageError(400, "invalid_parameter", "order must be asc or desc")
    try:
        order = UsageOrder(field=field, descending=direction == "desc")
    except ValueError as error:
        raise PageError(400, "invalid_parameter", str(error)) from None
    search = (args.get("q") or "").strip()
    if len(search) > 100 or "\x00" in search:
        raise PageError(400, "invalid_parameter", "search for at most 100 characters")
    return order, search or None
