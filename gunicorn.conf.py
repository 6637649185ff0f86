"""gunicorn settings for the Procfile's `web` (`gunicorn -c gunicorn.conf.py …`).

- The settings are checked first (one line naming a bad variable, exit 1), in a child
  process: the master imports none of the app's code, so the workers a `HUP` starts load
  the code on disk, all of it (README, "Deploying without dropping webhooks").
- Prometheus multiprocess mode: each gunicorn worker writes its metrics to files in
  `PROMETHEUS_MULTIPROC_DIR` (prepared, empty, by whoever starts the processes: `make run`,
  or the platform); a dead worker's files are marked so its live gauges disappear.
- `LOG_FORMAT=json`: gunicorn's own lines (start, worker boot/exit) are JSON objects too.
  Request lines come from the app (one per request, with its request id), not from
  gunicorn's access log.
"""

from __future__ import annotations

import os
import sys
import traceback


def _check_settings() -> None:
    """Exit 1 when the settings are bad; the check's own imports stay in a child process.

    Run as gunicorn loads this file (at start and on every `HUP`), before it parses the
    bind address or starts a worker: a bad value (PORT=abc, REDIS_URL=…:notaport) or a
    missing REDIS_URL is one line naming the variable. Had the master imported
    `store.settings` itself, every worker forked after a `HUP` would inherit that old
    module instead of loading the new release's.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            from store.settings import settings_or_exit

            settings_or_exit(require_broker=True)
            code = 0
        except SystemExit as error:
            code = error.code if isinstance(error.code, int) else 1
        except BaseException:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(1)


_check_settings()

graceful_timeout = 20  # in-flight requests get this long after SIGTERM
control_socket_disable = True  # a second instance would take over ~/.gunicorn/gunicorn.ctl

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "bot.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        # The app adds its own root handler (bot.logs); none here, or lines would double.
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            # Off: the app logs each request (path without query string, with its id).
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def on_starting(server: object) -> None:
    """Create the metrics directory."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """Mark an exited worker's metrics files dead (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
