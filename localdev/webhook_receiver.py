"""A webhook receiver that records the signed events it gets (alerts, SPEC §15).

A real HTTP server on 127.0.0.1 for tests, benchmarks and `make run` checks: every POST is
recorded with its headers and raw body; `events()` returns the decoded events whose
signature verifies with the secret of their path (`secrets`, set by the test), and faults
(answer 500, answer late, drop the connection) come from the shared stand-in base.

    .venv/bin/python -m localdev.webhook_receiver --port 0   # prints RECEIVER_URL=…
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

from localdev._http import RecordedRequest, Reply, StandInServer

SIGNATURE_HEADER = "X-RestaurantBot-Signature"
INSPECT_PATH = "/_received"


def verify(secret: str, header: str | None, body: bytes, *, tolerance_s: int = 300) -> bool:
    """Return True when `header` signs `body` with `secret` and is at most 5 minutes old."""
    if not header:
        return False
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


class WebhookReceiver(StandInServer):
    """Records POSTed events; answers 204 (or what a registered fault says)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        # path -> signing secret, for `events()`
        self.secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == INSPECT_PATH:
            return Reply(200, {"received": [_summary(r) for r in self.posts()]})
        return Reply(204)

    def posts(self, path: str | None = None) -> list[RecordedRequest]:
        """Return the POSTs received (on `path` only, when given)."""
        return [
            r for r in self.requests
            if r.method == "POST" and (path is None or r.path == path)
        ]  # fmt: skip

    def events(self, path: str, secret: str | None = None) -> list[dict[str, Any]]:
        """Return the events POSTed to `path` whose signature verifies."""
        key = secret or self.secrets.get(path, "")
        return [
            json.loads(r.body)
            for r in self.posts(path)
            if verify(key, r.headers.get(SIGNATURE_HEADER), r.body)
        ]


def _summary(request: RecordedRequest) -> dict[str, Any]:
    return {
        "path": request.path,
        "signature": request.headers.get(SIGNATURE_HEADER),
        "body": request.body.decode("utf-8", "replace"),
        "receivedAt": request.received_at,
    }


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; print `RECEIVER_URL=…` once listening."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with WebhookReceiver(port=args.port) as server:
        print(f"RECEIVER_URL={server.url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
