"""The `worker` process: runs `dramatiq` in a session of its own and forwards one SIGTERM.

    python -m actors.run_worker [dramatiq arguments]   (default: actors.context:setup actors.worker)

Process managers (honcho, foreman, `make run` before it) stop a Procfile line with
`killpg`: SIGTERM to every process of the group. Dramatiq's master forwards a SIGTERM to
its worker processes too, so each child gets two; the second one interrupts it in the
middle of its messages (prefetched ones are then not requeued). Here `dramatiq` runs in
a session of its own, which the group signal does not reach, and this wrapper sends its
master exactly one SIGTERM (for SIGTERM or SIGINT, however many arrive), then waits for
it and exits with its code.

With `LOG_FORMAT=json`, Dramatiq's master writes lines of its own format (its worker
processes already log JSON through it): they are turned into JSON objects here, secrets
redacted, so every line of the process is one JSON object.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from actors.supervision import die_with_parent

DEFAULT_ARGUMENTS = ["actors.context:setup", "actors.worker"]


def main(arguments: list[str]) -> int:
    """Run dramatiq with `arguments` until it exits; return its exit code."""
    from store.settings import settings_or_exit

    settings_or_exit(require_broker=True)  # one line and exit 1, before any process starts
    problem = bad_count_option(arguments)
    if problem:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 1
    dramatiq = str(Path(sys.executable).with_name("dramatiq"))
    command = [dramatiq, *(arguments or DEFAULT_ARGUMENTS)]
    json_logs = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
    worker = subprocess.Popen(
        command,
        start_new_session=True,
        preexec_fn=die_with_parent,
        stderr=subprocess.PIPE if json_logs else None,
    )
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Exactly one SIGTERM, whichever stop signal came and however often.
        nonlocal stopping
        if not stopping and worker.poll() is None:
            stopping = True
            os.kill(worker.pid, signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    if worker.stderr is not None:
        secrets = tuple(
            os.environ.get(name, "")
            for name in ("TWILIO_AUTH_TOKEN", "SUFRAH_API_KEY", "METRICS_TOKEN")
        )
        for raw in worker.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.strip():
                sys.stderr.write(as_json_line(line, secrets) + "\n")
                sys.stderr.flush()
    return worker.wait()


# Options of dramatiq's that the Procfile fills from the environment.
_COUNT_OPTIONS = {
    "--processes": "WORKER_PROCESSES",
    "--threads": "WORKER_THREADS",
    "--worker-shutdown-timeout": "WORKER_SHUTDOWN_TIMEOUT_MS",
}


def bad_count_option(arguments: list[str]) -> str | None:
    """Return one line about the first count option that is not a whole number ≥ 1."""
    for option, value in itertools.pairwise(arguments):
        variable = _COUNT_OPTIONS.get(option)
        if variable is not None and not (value.isascii() and value.isdigit() and int(value) > 0):
            return f"{variable} ({option}): expected a whole number of 1 or more, got {value!r}"
    return None


# Dramatiq's own format: `[time] [PID n] [thread] [logger] [LEVEL] message`.
_DRAMATIQ_LINE = re.compile(r"^\[[^\]]*\] \[PID (\d+)\] \[[^\]]*\] \[([^\]]+)\] \[(\w+)\] (.*)$")


def as_json_line(line: str, secrets: tuple[str, ...] = ()) -> str:
    """Return `line` as one JSON object (unchanged when it is one already), secrets redacted."""
    from bot.logs import redact
    from store.timeutil import iso_z, utcnow

    if line.startswith("{"):
        try:
            if isinstance(json.loads(line), dict):
                return line
        except ValueError:
            pass
    entry: dict[str, object] = {"time": iso_z(utcnow()), "level": "INFO", "logger": "dramatiq"}
    match = _DRAMATIQ_LINE.match(line)
    if match:
        pid, logger, level, message = match.groups()
        entry.update(level=level, logger=logger, pid=int(pid), message=message)
    else:
        entry["message"] = line
    entry["message"] = redact(str(entry["message"]), secrets)
    return json.dumps(entry, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
