"""What an actor has that the web app has too: the settings and the runtime (sessions, Redis…).

Actors take ids, call `current_runtime()` and open their own session. The runtime is built
lazily in each worker process (never before Dramatiq forks), or handed in by tests.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import dramatiq

from store.settings import Settings

if TYPE_CHECKING:
    from bot.runtime import Runtime

_lock = threading.Lock()
_runtime: Runtime | None = None
_settings: Settings | None = None


class RuntimeContext(dramatiq.Middleware):
    """Drops any runtime inherited over fork, so each worker process builds its own."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        global _runtime
        _runtime = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Hand over what a Redis outage left behind, without waiting for the scheduler.
        from actors.maintenance import relay
        from bot import telemetry

        try:
            relay()
        except Exception:
            logging.getLogger(__name__).exception("relay at worker start failed")
        telemetry.start_publishing(current_runtime())


def install_runtime(broker: dramatiq.Broker, settings: Settings) -> None:
    """Make actors build their runtime from `settings` on first use in each process."""
    global _settings
    _settings = settings
    broker.add_middleware(RuntimeContext())


def use_runtime(runtime: Runtime | None) -> None:
    """Use `runtime` for actors of this process (tests and in-process workers)."""
    global _runtime, _settings
    _runtime = runtime
    if runtime is not None:
        _settings = runtime.settings


def current_runtime() -> Runtime:
    """Return this process's runtime, building it on first use.

    Raises:
      RuntimeError: If neither `install_runtime()` nor `use_runtime()` has run.
    """
    global _runtime
    if _runtime is not None:
        return _runtime
    with _lock:
        if _runtime is None:
            if _settings is None:
                raise RuntimeError("no runtime: call actors.context.install_runtime() first")
            from bot.runtime import Runtime

            _runtime = Runtime(_settings)
        return _runtime
