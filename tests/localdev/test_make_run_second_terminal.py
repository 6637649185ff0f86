"""`make run` in one terminal, the README's CLI commands in another, as they are written.

A whole `make run` (embedded Redis, demo catalog, SQLite, web, worker, scheduler) runs in a
copy of the project, so its `instance/` is the test's own; the second terminal is a
process with none of make run's variables in its environment.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.embedded_redis import free_port
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
# What a fresh terminal has: no REDIS_URL, DATABASE_URL, TWILIO_AUTH_TOKEN, …
TERMINAL = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.environ.get("HOME", "/root"),
    "LANG": "C.UTF-8",
}


def copy_of_the_project(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


class MakeRun:
    """`make run`'s runner in a project directory, its output in a log file."""

    def __init__(self, project: Path, log: Path) -> None:
        self.project, self.log = project, log
        env = {
            **TERMINAL,
            "PORT": str(free_port()),
            # Small, for a shared CI machine.
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "4",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "2",
        }
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localdev.run"],
                cwd=project,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def printed(self, label: str) -> str:
        found = re.search(rf"^{label}: (\S+)", self.output(), re.MULTILINE)
        assert found, self.output()
        return found.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # as `kill -TERM <pid of make>`
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    base = tmp_path_factory.mktemp("make-run")
    running = MakeRun(copy_of_the_project(base / "project"), base / "make-run.log")
    try:
        ready = wait_until(
            lambda: "Admin key: " in running.output() or running.process.poll() is not None,
            timeout=240,
        )
        assert ready, running.output()
        assert running.process.poll() is None, running.output()
        yield running
    finally:
        running.stop()


def second_terminal(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "bot", *args],
        cwd=project,
        env=TERMINAL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_banner_shows_the_embedded_redis_and_the_demo_catalog(make_run):
    assert make_run.printed("Redis").startswith("redis://127.0.0.1:")
    assert make_run.printed("Catalog API").startswith("http://127.0.0.1:")


def test_dead_letters_list_in_a_second_terminal_reads_make_runs_redis(make_run):
    listed = second_terminal(make_run.project, "dead-letters", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.strip().splitlines()[-1] == "0 dead letter(s)"


def test_the_cli_in_a_second_terminal_uses_make_runs_database_token_and_catalog(make_run):
    listed = second_terminal(make_run.project, "restaurants", "list")
    assert listed.returncode == 0, listed.stderr
    assert make_run.printed("Restaurant ID") in listed.stdout
    number = re.search(r"simulate --to (\S+)", make_run.output())
    assert number, make_run.output()
    # No --url: make run's HOST and PORT; signed with its local Twilio token.
    for text, expected in (("hi", "bot [simulated]: "), ("menu", "bot [simulated]: Our menu")):
        said = second_terminal(
            make_run.project,
            *("simulate", "--to", number.group(1), "--from", "+966511110001"),
            *("--wait", "30", text),
        )
        assert said.returncode == 0, said.stderr
        assert expected in said.stdout


def test_cache_purge_in_a_second_terminal_empties_make_runs_cache_in_every_process(make_run):
    # After the conversation above, the menu is cached in make run's Redis and in its
    # web process, which listens for purges.
    purged = second_terminal(make_run.project, "cache", "purge", "--merchant", "demo-merchant")
    assert purged.returncode == 0, purged.stderr
    found = re.fullmatch(
        r"purged merchant demo-merchant: (\d+) keys deleted from Redis, (\d+) processes notified",
        purged.stdout.strip(),
    )
    assert found, purged.stdout
    assert int(found.group(1)) >= 1
    assert int(found.group(2)) >= 1


def test_once_make_run_stopped_the_cli_no_longer_reaches_for_its_redis(make_run):
    make_run.stop()
    assert not (make_run.project / "instance" / "make-run.env").exists()
    listed = second_terminal(make_run.project, "dead-letters", "list")
    assert listed.returncode == 1
    assert listed.stderr.strip() == "Error: REDIS_URL is not set (this command needs Redis)"
