"""`flask --app bot imports start|follow`: start an import and follow it to its true count."""

from __future__ import annotations

import io
import re

import pytest

from bot.cli import order_imports
from store.models import Job
from tests.imports.conftest import upstream_orders


@pytest.fixture
def cli(live_app):
    return live_app.test_cli_runner()


def test_start_follows_the_import_to_the_end_and_prints_the_true_count(
    cli, demo, finished, fake_catalog, worker
):
    result = cli.invoke(args=["imports", "start", "--restaurant", "demo", "--days", "7"])
    assert result.exit_code == 0, result.output + result.stderr
    job_id = re.search(r"started: job (\S+)", result.stdout).group(1)
    job = finished(job_id, "succeeded")
    expected = len(upstream_orders(fake_catalog, job))
    lines = result.stdout.splitlines()
    assert lines[-1] == (
        f"imported {expected:,} orders (7 days, {job.result['pages']} pages), job {job_id}"
    )
    assert f"{expected:,}/{expected:,} orders (100%) done" in lines  # not a terminal: lines


def test_start_of_an_unknown_restaurant_is_one_line_and_exit_code_1(cli, live_runtime):
    result = cli.invoke(args=["imports", "start", "--restaurant", "nope"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no restaurant with id 'nope'"


@pytest.mark.parametrize("days", ["0", "366", "x"])
def test_bad_days_are_one_line_and_exit_code_1(cli, demo, days):
    result = cli.invoke(args=["imports", "start", "--restaurant", "demo", "--days", days])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_stops_following_and_leaves_the_import_running(
    cli, demo, finished, fake_catalog, worker, monkeypatch
):
    fake_catalog.orders_latency = 0.3  # so that the first look finds it unfinished

    def interrupted(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(order_imports, "pause", interrupted)
    result = cli.invoke(args=["imports", "start", "--restaurant", "demo", "--days", "3"])
    job_id = re.search(r"started: job (\S+)", result.stdout).group(1)
    assert result.exit_code == 130
    assert f"the import goes on as job {job_id}" in result.stderr
    assert f"flask --app bot imports follow {job_id}" in result.stderr
    assert f"GET /api/jobs/{job_id}" in result.stderr
    assert finished(job_id, "succeeded").result["orders"] > 0


def test_a_second_start_follows_the_import_already_running(cli, demo, start, finished):
    job_id = start(days=3)  # no worker: it stays queued
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(order_imports, "pause", _interrupt)
        result = cli.invoke(args=["imports", "start", "--restaurant", "demo"])
    assert "already running: following it" in result.stderr
    assert "waiting for a worker…" in result.stdout
    assert f"goes on as job {job_id}" in result.stderr


def _interrupt(_seconds):
    raise KeyboardInterrupt


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    screen = Terminal()
    bar = order_imports.ProgressBar(screen, tty=True)
    job = Job(
        status="running", progress_done=1200, progress_total=2400, progress_step="day 3/30, page 2"
    )
    bar.show(job)
    bar.show(job)  # unchanged: not drawn again
    bar.close()
    assert screen.getvalue() == (
        "\r[###############...............] 1,200/2,400 orders (50%) day 3/30, page 2\x1b[K\n"
    )
