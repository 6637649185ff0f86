"""The `worker` process: runs `dramatiq` in a session of its own and forwards one SIGTERM.

    python -m actors.run_worker [dramatiq arguments]   (default: actors.broker:setup actors.worker)

Process managers (honcho, foreman, `make run` before it) stop a Procfile line with
`killpg`: SIGTERM to every process of the group. Dramatiq's master forwards a SIGTERM to
its worker processes too, so each child gets two; the second one interrupts it in the
middle of its messages (prefetched ones are then not requeued). Here `dramatiq` runs in
a session of its own, which the group signal does not reach, and this wrapper sends its
master exactly one SIGTERM (for SIGTERM or SIGINT, however many arrive), then waits for
it and exits with its code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

DEFAULT_ARGUMENTS = ["actors.broker:setup", "actors.worker"]


def main(arguments: list[str]) -> int:
    """Run dramatiq with `arguments` until it exits; return its exit code."""
    dramatiq = str(Path(sys.executable).with_name("dramatiq"))
    command = [dramatiq, *(arguments or DEFAULT_ARGUMENTS)]
    worker = subprocess.Popen(command, start_new_session=True)
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Exactly one SIGTERM, whichever stop signal came and however often.
        nonlocal stopping
        if not stopping and worker.poll() is None:
            stopping = True
            os.kill(worker.pid, signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    while True:
        try:
            return worker.wait()
        except InterruptedError:  # pragma: no cover (PEP 475 retries; kept for clarity)
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
