"""The number of SQL statements of a page does not grow with the data (SPEC §14)."""

import datetime as dt
import uuid

import pytest

from dashboard.dead_letter_views import forget_quick_filters
from insights.models import InsightBatch
from operations import audit, dead_letter_index
from store.models import Job
from store.usage import clear_order_cache
from tests.insights.conftest import messages
from tests.usage_api.conftest import NOW, add_restaurant, open_conversation

PAGES = [
    "/dashboard/admin/overview",
    "/dashboard/admin/restaurants",
    "/dashboard/admin/restaurants?sort=lastActivity&order=desc&q=r",
    "/dashboard/admin/restaurants?sort=dailyRemaining",
    "/dashboard/admin/jobs",
    "/dashboard/admin/jobs?status=dead&after=2025-10-01T00:00",
    "/dashboard/admin/jobs.json",
    "/dashboard/admin/dead-letters",
    "/dashboard/admin/dead-letters?errorClass=CatalogUnavailable",
    "/dashboard/admin/breakers",
    "/dashboard/admin/batches",
    "/dashboard/admin/batches?status=sealed&restaurantId=r1",
    "/dashboard/admin/batches.json",
    "/dashboard/admin/jobs?job=j-x0000-0",
    "/dashboard/r/r1/usage",
]


def more_data(db_session, settings, start: int, count: int) -> None:
    for n in range(start, start + count):
        rid = f"x{n:04d}"
        add_restaurant(db_session, settings, rid, timezone=["UTC", "Asia/Riyadh"][n % 2])
        open_conversation(db_session, rid, NOW)
    job_ids = [f"j-x{start:04d}-{n}" for n in range(count * 5)]
    db_session.execute(
        Job.__table__.insert(),
        [
            {
                "id": job_ids[n],
                "actor": "welcome_bootstrap",
                "queue": "bootstrap",
                "restaurant_id": f"x{start:04d}",
                "status": ["succeeded", "dead", "queued"][n % 3],
                "created_at": NOW - dt.timedelta(minutes=n),
                "updated_at": NOW,
                "finished_at": NOW if n % 3 != 2 else None,
            }
            for n in range(count * 5)
        ],
    )
    dead_letter_index.upsert(
        db_session,
        [
            {
                "message_id": str(uuid.uuid4()),
                "queue": "bootstrap",
                "redis_id": str(uuid.uuid4()),
                "actor": "welcome_bootstrap",
                "restaurant_id": "r1",
                "error_class": ["CatalogUnavailable", "TwilioError:63016"][n % 2],
                "last_error": "x",
                "attempts": 4,
                "arguments": {"args": [], "kwargs": {}},
                "dead_lettered_at": NOW - dt.timedelta(minutes=n),
            }
            for n in range(count * 2)
        ],
    )
    for _ in range(count):
        audit.record(db_session, key_prefix="rbkey_x", action="dead_letters.retry", count=1)
    # Batches: events waiting at every new restaurant, sealed and analyzed ones with jobs.
    for n in range(start, start + count):
        messages(db_session, f"x{n:04d}", 2, NOW)
    db_session.execute(
        InsightBatch.__table__.insert(),
        [
            {
                "restaurant_id": ["r1", f"x{start + n % count:04d}"][n % 2],
                "status": ["sealed", "analyzed"][n % 3 // 2],
                "events": 100,
                "created_at": NOW - dt.timedelta(minutes=n),
                "sealed_at": NOW,
                "job_id": job_ids[n],
            }
            for n in range(count * 5)
        ],
    )
    db_session.flush()


def forget_kept_values():
    clear_order_cache()
    forget_quick_filters()


def count(admin, statements, path):
    statements.clear()
    answer = admin.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return len(statements)


@pytest.mark.parametrize("path", PAGES)
def test_a_page_costs_the_same_statements_with_little_and_with_much_data(
    admin, db_session, settings, clock, statements, path
):
    more_data(db_session, settings, 0, 2)
    admin.get(path)  # the session's first use is recorded once
    forget_kept_values()  # orders and quick filters are kept a while: measure their reads
    little = count(admin, statements, path)
    more_data(db_session, settings, 2, 60)
    forget_kept_values()
    much = count(admin, statements, path)
    assert little == much
    # SAVEPOINTs of the test session included; the Batches page first gives waiting events
    # their open batch in a transaction of its own, as the API does: one pair more.
    bound = 17 if path.split("?")[0] == "/dashboard/admin/batches" else 16
    assert little <= bound, statements.statements


def test_the_overview_reads_no_job_row_by_row(admin, clock, statements):
    admin.get("/dashboard/admin/overview")
    count(admin, statements, "/dashboard/admin/overview")
    jobs = [sql for sql in statements.touching("jobs") if "GROUP BY" not in sql.upper()]
    # Only the waiting and running jobs are counted, and the oldest queued one found.
    assert all("status" in sql for sql in jobs)


def test_a_kept_order_still_shows_current_values(admin, db_session, settings, clock):
    more_data(db_session, settings, 0, 3)
    path = "/dashboard/admin/restaurants?sort=conversationsThisMonth&order=desc"
    admin.get(path)
    open_conversation(db_session, "x0001", NOW)  # reorders nothing yet: 2 conversations
    open_conversation(db_session, "x0001", NOW)
    page = admin.get(path).get_data(as_text=True)
    row = page[page.index("/dashboard/r/x0001/usage") :]
    assert '<td class="num">3</td>' in row[: row.index("</tr>")]
