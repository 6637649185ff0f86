"""`make run`'s runner: what it checks before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localdev.run import read_procfile

ROOT = Path(__file__).resolve().parents[2]


def run_locally(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localdev.run"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_taken_port_is_refused_in_one_line_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_locally(HOST="127.0.0.1", PORT=str(port))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"make run: 127.0.0.1:{port} is already in use (Address already in use);"
        " stop what runs there or choose another PORT=…"
    ]
    assert done.stdout == ""


@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_a_port_that_is_not_a_port_number_is_refused_in_one_line(port):
    done = run_locally(HOST="127.0.0.1", PORT=port)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"make run: PORT must be a port number, got {port!r}"
    ]


def test_the_procfile_has_the_four_process_types_and_web_names_the_app_factory():
    processes = read_procfile()
    assert set(processes) == {"release", "web", "worker", "scheduler"}
    assert "${HOST:-0.0.0.0}:${PORT:-8000}" in processes["web"]
    assert processes["web"].endswith("'bot:create_app()'")
