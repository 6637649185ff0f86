"""Jobs finished per hour and day, kept after the job rows are gone."""

import datetime as dt

from operations import job_outcomes
from store.models import Job
from store.retention import delete_old_jobs

NOW = dt.datetime(2025, 10, 20, 15, 30, tzinfo=dt.UTC)


def add_jobs(session, status, finished, count, actor="welcome_bootstrap"):
    for n in range(count):
        session.add(
            Job(
                id=f"{status}-{finished:%d%H%M}-{actor}-{n}",
                actor=actor,
                queue="bootstrap",
                status=status,
                created_at=finished - dt.timedelta(seconds=5),
                updated_at=finished,
                finished_at=finished,
            )
        )
    session.flush()


def test_the_rollup_counts_jobs_per_hour_and_outcome_and_a_rerun_changes_nothing(db_session):
    add_jobs(db_session, "succeeded", NOW - dt.timedelta(minutes=10), 3)
    add_jobs(db_session, "dead", NOW - dt.timedelta(minutes=10), 1)
    add_jobs(db_session, "succeeded", NOW - dt.timedelta(hours=2), 2, actor="deliver_message")
    add_jobs(db_session, "running", NOW, 1)
    job_outcomes.refresh(db_session, now=NOW, retention_days=30)
    job_outcomes.refresh(db_session, now=NOW, retention_days=30)
    found = job_outcomes.history(db_session, now=NOW)
    assert len(found.hours) == 24
    assert (found.hours[-1].succeeded, found.hours[-1].failed) == (3, 1)
    assert found.hours[-3].succeeded == 2
    assert (found.last_day.succeeded, found.last_day.failed) == (5, 1)
    assert found.days[-1].processed == 6
    assert len(found.days) == 30


def test_the_history_outlives_the_job_rows(db_session):
    old = NOW - dt.timedelta(days=40)
    add_jobs(db_session, "succeeded", old, 4)
    job_outcomes.refresh(db_session, now=old + dt.timedelta(minutes=5), retention_days=30)
    # The scheduler's cleanup deletes job rows older than JOB_RETENTION_DAYS (30).
    assert delete_old_jobs(db_session, older_than=NOW - dt.timedelta(days=30)) == 4
    job_outcomes.refresh(db_session, now=NOW, retention_days=30)
    days = job_outcomes.history(db_session, now=NOW, days=60).days
    [day] = [d for d in days if d.start == old.replace(hour=0, minute=0)]
    assert day.succeeded == 4


def test_hours_that_retention_may_have_thinned_are_never_recounted(db_session):
    add_jobs(db_session, "succeeded", NOW - dt.timedelta(days=3), 2)
    job_outcomes.refresh(db_session, now=NOW - dt.timedelta(days=3, minutes=-5), retention_days=30)
    db_session.query(Job).delete()
    # A scheduler that was away for three days recounts from where it stopped, but never
    # before JOB_RETENTION_DAYS minus a day (here 2 days): the old hour keeps its count.
    job_outcomes.refresh(db_session, now=NOW, retention_days=3)
    assert job_outcomes.history(db_session, now=NOW).days[-4].succeeded == 2
