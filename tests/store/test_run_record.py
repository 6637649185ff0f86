"""`make run`'s record of its settings, for commands in a second terminal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from store import run_record
from store.settings import Settings, is_setting


def test_only_settings_are_recorded_and_read_back_exactly(tmp_path):
    path = tmp_path / "make-run.env"
    environ = {
        "REDIS_URL": "redis://127.0.0.1:41234/0",
        "SUFRAH_API_KEY": "it's a key with spaces & $symbols",
        "CONTENT_SID_WELCOME": "HX" + "1" * 32,
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LOG_LEVEL": "",
    }
    run_record.write(environ, os.getpid(), path)
    assert run_record.recorded(path) == {
        "REDIS_URL": "redis://127.0.0.1:41234/0",
        "SUFRAH_API_KEY": "it's a key with spaces & $symbols",
        "CONTENT_SID_WELCOME": "HX" + "1" * 32,
    }


def test_the_record_is_readable_by_its_owner_only_and_a_shell_can_source_it(tmp_path):
    path = tmp_path / "make-run.env"
    run_record.write({"SUFRAH_API_KEY": "a 'quoted' $value"}, os.getpid(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sourced = subprocess.run(
        ["sh", "-c", f'set -a; . "{path}"; printf %s "$SUFRAH_API_KEY"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout == "a 'quoted' $value"


def test_the_environment_wins_over_the_record(tmp_path):
    path = tmp_path / "make-run.env"
    run_record.write({"REDIS_URL": "redis://recorded:1/0", "PORT": "8123"}, os.getpid(), path)
    filled = run_record.fill_in({"REDIS_URL": "redis://mine:2/0", "PORT": " "}, path)
    assert filled["REDIS_URL"] == "redis://mine:2/0"
    assert filled["PORT"] == "8123"  # an empty variable counts as unset, as in the settings


def test_a_record_left_by_a_make_run_that_died_is_ignored(tmp_path):
    path = tmp_path / "make-run.env"
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    run_record.write({"REDIS_URL": "redis://127.0.0.1:41234/0"}, int(finished.stdout), path)
    assert run_record.recorded(path) == {}
    assert run_record.fill_in({"HOME": "/root"}, path) == {"HOME": "/root"}


def test_a_make_run_removes_only_its_own_record(tmp_path):
    path = tmp_path / "make-run.env"
    run_record.write({"PORT": "8001"}, os.getpid(), path)
    run_record.remove(os.getpid() + 1, path)  # another make run's
    assert path.exists()
    run_record.remove(os.getpid(), path)
    assert not path.exists()


def test_every_variable_the_settings_read_counts_as_a_setting():
    assert is_setting("REDIS_URL")
    assert is_setting("DATABASE_URL")
    assert is_setting("TWILIO_AUTH_TOKEN")
    assert is_setting("WORKER_HEARTBEAT_TIMEOUT_MS")
    assert is_setting("CONTENT_SID_MENU")
    assert not is_setting("CONTENT_SID_")
    assert not is_setting("PATH")
    assert not is_setting("PROMETHEUS_MULTIPROC_DIR")
    # Each one changes what Settings.from_env reads.
    assert Settings.from_env({"REDIS_NAMESPACE": "x"}).redis_namespace == "x"
