"""Dead letters: listed with what an operator needs, replayed once, deleted (Redis broker)."""

from __future__ import annotations

import threading

import pytest

from tests.support.dead_letters import letters_when_listed
from tests.support.processes import on_rabbitmq
from tests.support.waiting import wait_until

redis_only = pytest.mark.skipif(on_rabbitmq(), reason="dead letters are listed on Redis only")


@pytest.fixture
def dead_job(live_runtime, send_job, job_row, worker):
    """A flaky job that failed every attempt: its message is a dead letter."""
    fail = live_runtime.keys("test", "fail", "dl")
    live_runtime.redis.set(fail, "1")
    job_id = send_job("flaky_job", "test-flaky", restaurant_id="r1", name="dl")
    assert wait_until(lambda: job_row(job_id).status == "dead")
    assert [letter["id"] for letter in letters_when_listed(live_runtime)] == [job_id]
    live_runtime.redis.delete(fail)  # from now on it would succeed
    return job_id


def letters(client, headers, query=""):
    answer = client.get(f"/api/admin/dead-letters{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


@redis_only
def test_a_dead_letter_is_listed_replayed_and_then_succeeds(
    live_client, tenants, dead_job, job_row
):
    admin = tenants["admin"]
    listed = letters(live_client, admin)
    assert listed["pagination"] == {"total": 1, "limit": 20, "offset": 0, "hasMore": False}
    [letter] = listed["data"]
    assert list(letter) == [
        "id",
        "queue",
        "actor",
        "args",
        "restaurantId",
        "attempts",
        "lastError",
        "deadLetteredAt",
        "errorClass",
    ]
    assert (letter["id"], letter["queue"], letter["actor"]) == (dead_job, "test-flaky", "flaky_job")
    assert letter["args"] == {"args": [], "kwargs": {"name": "dl", "restaurant_id": "r1"}}
    assert (letter["restaurantId"], letter["attempts"]) == ("r1", 4)
    assert letter["lastError"] == "RuntimeError: dl fails on purpose"
    assert letter["errorClass"] == "RuntimeError"
    assert letter["deadLetteredAt"].endswith("Z")

    answer = live_client.post(f"/api/admin/dead-letters/{dead_job}/retry", headers=admin)
    assert (answer.status_code, answer.get_json()) == (202, {"id": dead_job, "status": "requeued"})
    assert letters(live_client, admin)["data"] == []  # never both replayed and listed
    done = wait_until(lambda: (row := job_row(dead_job)) and row.status == "succeeded" and row)
    assert done
    assert done.attempts == 5  # the four that failed, and the replay


@redis_only
def test_two_operators_replaying_at_once_replay_it_once(
    live_app, tenants, dead_job, live_runtime, broker
):
    statuses: list[int] = []
    start = threading.Barrier(8)

    def replay():
        client = live_app.test_client()
        start.wait()
        answer = client.post(f"/api/admin/dead-letters/{dead_job}/retry", headers=tenants["admin"])
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=replay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] + [404] * 7
    ran = wait_until(
        lambda: live_runtime.redis.lrange(live_runtime.keys("test", "finished"), 0, -1)
    )
    assert len(ran) == 1
    assert not wait_until(  # and nothing more arrives
        lambda: len(live_runtime.redis.lrange(live_runtime.keys("test", "finished"), 0, -1)) > 1,
        timeout=1.0,
    )


@redis_only
def test_a_deleted_dead_letter_is_gone_and_unknown_ones_are_404(live_client, tenants, dead_job):
    admin = tenants["admin"]
    deleted = live_client.delete(f"/api/admin/dead-letters/{dead_job}", headers=admin)
    assert deleted.status_code == 204
    assert deleted.data == b""
    assert "Content-Type" not in deleted.headers
    assert letters(live_client, admin)["pagination"]["total"] == 0
    assert (
        live_client.delete(f"/api/admin/dead-letters/{dead_job}", headers=admin).status_code == 404
    )
    missing = live_client.post("/api/admin/dead-letters/nope/retry", headers=admin)
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "not_found")


def test_dead_letters_are_for_admins_only(live_client, tenants):
    assert live_client.get("/api/admin/dead-letters", headers=tenants["r1"]).status_code == 403
    assert live_client.get("/api/admin/dead-letters").status_code == 401
    bad_page = live_client.get("/api/admin/dead-letters?limit=0", headers=tenants["admin"])
    assert bad_page.status_code == 400


@redis_only
def test_the_cli_lists_replays_and_deletes_dead_letters(live_app, dead_job, job_row):
    runner = live_app.test_cli_runner()
    listed = runner.invoke(args=["dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert dead_job in listed.stdout
    replayed = runner.invoke(args=["dead-letters", "retry", dead_job])
    assert (replayed.exit_code, replayed.stdout.strip()) == (0, f"{dead_job} requeued")
    again = runner.invoke(args=["dead-letters", "retry", dead_job])
    assert again.exit_code == 1
    assert f"no dead letter {dead_job}" in again.output
    assert wait_until(lambda: job_row(dead_job).status == "succeeded")
    assert runner.invoke(args=["dead-letters", "delete", dead_job]).exit_code == 1


@pytest.mark.rabbitmq
@pytest.mark.skipif(not on_rabbitmq(), reason="RabbitMQ's answer")
def test_on_rabbitmq_the_dead_letter_endpoints_say_they_are_not_implemented(live_client, tenants):
    answer = live_client.get("/api/admin/dead-letters", headers=tenants["admin"])
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (501, "not_implemented")
    retry = live_client.post("/api/admin/dead-letters/x/retry", headers=tenants["admin"])
    assert retry.status_code == 501


def test_dead_letters_answer_503_with_a_json_error_while_redis_is_down(
    live_runtime, settings, tenants
):
    from bot import create_app
    from bot.runtime import Runtime

    cut_off = Runtime(
        settings.replace(redis_url="redis://127.0.0.1:1/0"), engine=live_runtime.engine
    )
    client = create_app(runtime=cut_off).test_client()
    for method, path in (
        ("GET", "/api/admin/dead-letters"),
        ("POST", "/api/admin/dead-letters/some-id/retry"),
        ("DELETE", "/api/admin/dead-letters/some-id"),
    ):
        answer = client.open(path, method=method, headers=tenants["admin"])
        assert answer.status_code == 503, (method, path)
        assert answer.get_json()["error"]["code"] == "unavailable"
        assert answer.headers["Retry-After"] == "5"
