"""Redis or the database down: a page that says which, `503`, never a stack trace."""

import pytest

from bot import create_app
from bot.runtime import Runtime
from insights.models import InsightBatch
from store.models import Job
from tests.dashboard.conftest import csrf_of, sign_in
from tests.insights.conftest import messages
from tests.usage_api.conftest import NOW


@pytest.fixture
def without_redis(runtime, people):
    cut_off = Runtime(
        runtime.settings.replace(redis_url="redis://127.0.0.1:1/0"),
        engine=runtime.engine,
        session_factory=runtime.sessions,
    )
    client = create_app(runtime=cut_off).test_client()
    assert sign_in(client, api_key=people.admin_key).status_code == 302  # the limit fails open
    yield client
    cut_off.close_clients()


@pytest.mark.parametrize("path", ["/dashboard/admin/dead-letters", "/dashboard/admin/breakers"])
def test_pages_that_need_redis_say_redis_is_unreachable(without_redis, path):
    answer = without_redis.get(path)
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "Redis is unreachable" in page
    assert "Traceback" not in page
    assert answer.headers["Retry-After"] == "5"


def test_the_overview_shows_what_it_can_and_names_redis(without_redis):
    answer = without_redis.get("/dashboard/admin/overview")
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "Redis is unreachable." in page
    assert "Database ok" in page
    assert "Jobs finished per hour" in page  # read from the database


@pytest.mark.parametrize(
    "path", ["/dashboard/admin/restaurants", "/dashboard/admin/jobs", "/dashboard/admin/batches"]
)
def test_pages_of_the_database_alone_still_work_without_redis(without_redis, path):
    assert without_redis.get(path).status_code == 200


def test_seal_now_without_redis_seals_and_leaves_the_analysis_to_the_relay(
    without_redis, db_session
):
    messages(db_session, "r1", 2, NOW)
    page = without_redis.get("/dashboard/admin/batches").get_data(as_text=True)
    answer = without_redis.post("/dashboard/admin/batches/seal", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 302
    [batch] = db_session.query(InsightBatch).all()
    job = db_session.get(Job, batch.job_id)
    # Written with the seal; the relay hands it to the broker once Redis is back.
    assert (batch.status, job.status, job.enqueued_at) == ("sealed", "queued", None)


def test_a_bulk_action_without_redis_changes_nothing_and_says_why(without_redis):
    page = without_redis.get("/dashboard/admin/jobs").get_data(as_text=True)

    answer = without_redis.post(
        "/dashboard/admin/dead-letters/bulk",
        data={"csrf_token": csrf_of(page), "action": "retry", "expect": "0"},
    )
    assert answer.status_code == 503
    assert "Redis is unreachable" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dashboard/admin/overview"),
        ("GET", "/dashboard/admin/batches"),
        ("POST", "/dashboard/admin/batches/seal"),
        ("POST", "/dashboard/admin/batches/1/analyze"),
    ],
)
def test_with_the_database_down_a_signed_in_browser_gets_a_503_page(
    runtime, people, settings, method, path
):
    client = create_app(runtime=runtime).test_client()
    sign_in(client, api_key=people.admin_key)
    token = csrf_of(client.get("/dashboard/admin/jobs").get_data(as_text=True))
    down = Runtime(settings.replace(database_url="postgresql+psycopg://nobody@127.0.0.1:1/x"))
    broken = create_app(runtime=down).test_client()
    cookie = client.get_cookie("rb_session", path="/dashboard")
    broken.set_cookie("rb_session", cookie.value, path="/dashboard")
    answer = broken.open(path, method=method, data={"csrf_token": token})
    assert answer.status_code == 503
    assert "The database is unreachable" in answer.get_data(as_text=True)
    down.close()


def test_without_secret_key_the_dashboard_says_it_is_not_configured(runtime):
    bare = Runtime(
        runtime.settings.replace(secret_key=None),
        engine=runtime.engine,
        session_factory=runtime.sessions,
    )
    answer = create_app(runtime=bare).test_client().get("/dashboard/login")
    assert answer.status_code == 503
    assert "SECRET_KEY" in answer.get_data(as_text=True)
