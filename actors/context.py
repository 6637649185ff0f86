"""What an actor has that the web app has too: the settings and the runtime (sessions, Redis…).

The worker runs `dramatiq actors.context:setup actors.worker` (the Procfile's `worker`
line, through `actors.run_worker`). In each worker process Dramatiq calls `setup()` first:
it reads the settings, configures logging, installs the broker and adds `RuntimeContext`;
then Dramatiq imports the actor modules. When the process boots, `RuntimeContext` builds
the process's runtime (never before Dramatiq forks) and hands the job-state writer its
engine, Redis client and keys. Actors take ids, call `current_runtime()` and open their
own session. The scheduler calls `setup()` too; tests hand in a runtime with
`use_runtime()`.
"""

from __future__ import annotations

import logging
import threading

import dramatiq

from actors import maintenance
from actors.broker import setup_broker
from actors.job_state_writer import writer
from actors.job_states import JobStateStore
from bot import telemetry
from bot.logs import configure_logging
from bot.runtime import Runtime
from store.settings import Settings, settings_or_exit

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_runtime: Runtime | None = None
_settings: Settings | None = None


class RuntimeContext(dramatiq.Middleware):
    """Gives each worker process a runtime of its own, and the writer its store.

    Parameters:
      settings(Settings): What the runtime is built from.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        # In the worker process itself: connections and threads are never shared over fork.
        use_runtime(Runtime(self.settings))

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        runtime = current_runtime()
        # Hand over what a Redis outage left behind, without waiting for the scheduler.
        try:
            maintenance.relay(runtime)
        except Exception:
            logger.exception("relay at worker start failed")
        telemetry.start_publishing(runtime)


def setup() -> None:
    """Read the settings, configure logging, install the broker and the runtime context.

    The entry point of `dramatiq actors.context:setup …` (called in each worker process
    before the actor modules are imported) and of the scheduler; exits with one line on a
    bad setting.
    """
    global _settings
    settings = settings_or_exit(require_broker=True)
    configure_logging(settings, adopt_handlers=True)
    broker = setup_broker(settings)
    _settings = settings
    broker.add_middleware(RuntimeContext(settings))


def use_runtime(runtime: Runtime | None) -> None:
    """Use `runtime` for actors of this process, and have the job-state writer write with
    its engine, Redis client and keys (tests and in-process workers; None: forget it)."""
    global _runtime, _settings
    _runtime = runtime
    if runtime is None:
        writer.use(None)
        return
    _settings = runtime.settings
    writer.use(JobStateStore(runtime.engine, runtime.redis, runtime.keys))


def current_runtime() -> Runtime:
    """Return this process's runtime, building it on first use (the scheduler).

    Raises:
      RuntimeError: If neither `setup()` nor `use_runtime()` has run.
    """
    if _runtime is not None:
        return _runtime
    with _lock:
        runtime = _runtime
        if runtime is None:
            if _settings is None:
                raise RuntimeError("no runtime: call actors.context.setup() first")
            runtime = Runtime(_settings)
            use_runtime(runtime)
        return runtime
