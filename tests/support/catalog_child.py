"""Another process of the service, for tests that cross processes.

    python -m tests.support.catalog_child '<settings as JSON>'

builds a `Runtime` from those settings, prints `{"ready": true}` and then answers one
JSON command per stdin line with one JSON line on stdout:

    {"op": "categories", "merchant": "m1"}       -> {"value": [...]} or {"error": {...}}
    {"op": "breaker_state", "merchant": "m1"}    -> {"value": "open"}
    {"op": "local_has", "key": "..."}            -> {"value": true}
    {"op": "wait_local_gone", "key": "...", "timeout": 1.0}
                                                -> {"value": true} once the local entry is gone
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.runtime import Runtime
from store.settings import Settings
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
_FIELDS = (
    "redis_url",
    "redis_namespace",
    "database_url",
    "sufrah_api_base",
    "sufrah_api_key",
    "sufrah_cache_ttl_ms",
    "local_cache_ttl_ms",
    "catalog_breaker_failures",
    "catalog_breaker_cooldown_ms",
)


class CatalogChild:
    """A running child process; a context manager that stops it on exit."""

    def __init__(self, settings: Settings) -> None:
        fields = {name: getattr(settings, name) for name in _FIELDS}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.catalog_child", json.dumps(fields)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        ready = self.read()
        if ready != {"ready": True}:
            self.close()
            raise RuntimeError(f"catalog child did not start: {ready!r}")

    def send(self, op: str, **fields: Any) -> None:
        """Send a command without waiting for its answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()

    def read(self) -> Any:
        """Return the next answer."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"catalog child exited with {self.process.wait(5)}")
        return json.loads(line)

    def ask(self, op: str, **fields: Any) -> Any:
        """Send a command and return its answer."""
        self.send(op, **fields)
        return self.read()

    def close(self) -> None:
        """Stop the child and release its pipes."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> CatalogChild:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _answer(runtime: Runtime, command: dict[str, Any]) -> Any:
    from cache.base import MISSING
    from catalog.errors import CatalogError

    op = command["op"]
    try:
        if op == "categories":
            return {"value": runtime.catalog.categories(command["merchant"])}
        if op == "breaker_state":
            return {"value": runtime.catalog_breaker.state(command["merchant"])}
        if op == "local_has":
            return {"value": runtime.cache.local.get(command["key"]) is not MISSING}
        if op == "wait_local_gone":
            gone = wait_until(
                lambda: runtime.cache.local.get(command["key"]) is MISSING,
                command["timeout"],
                interval=0.005,
            )
            return {"value": bool(gone)}
    except CatalogError as error:
        return {"error": {"type": type(error).__name__, "kind": str(error.kind)}}
    return {"error": {"type": "UnknownCommand", "kind": op}}


def main() -> None:
    runtime = Runtime(Settings(**json.loads(sys.argv[1])))
    try:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            answer = _answer(runtime, json.loads(line))
            print(json.dumps(answer, ensure_ascii=False), flush=True)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
