"""Fixtures of the operations tests: the job-system ones (test actors, jobs sent as the
webhook sends them, restaurants with credentials)."""

from tests.actors.conftest import job_actors, job_row, send_job, tenants  # noqa: F401
