"""What the local HTTP stand-ins share: a quiet keep-alive server, recording, fault injection.

A stand-in subclasses `StandInServer` and answers `route(request)`; the base records every
request, adds the configured latency and applies the faults registered by tests (fail with a
status, hold the answer, drop the connection), in order of registration.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import parse_qsl

T = TypeVar("T")
FaultKind = Literal["fail", "timeout", "drop"]


class Headers(dict[str, str]):
    """Request headers, looked up without regard to case."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    received_at: float  # wall clock, time.time()
    received_monotonic: float

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        """Return the form-encoded body as a dict (the first value of a repeated field)."""
        fields: dict[str, str] = {}
        for name, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            fields.setdefault(name, value)
        return fields


class RecordLog(Generic[T]):
    """A list that threads append to while tests read it, wait on it and clear it."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self._items.clear()

    def snapshot(self) -> list[T]:
        with self._changed:
            return list(self._items)

    def wait_until(self, predicate: Callable[[list[T]], bool], timeout: float) -> bool:
        """Block until `predicate(items)` holds or `timeout` seconds pass; say which."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._items), timeout)

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> T:
        with self._changed:
            return self._items[index]

    def __repr__(self) -> str:
        return f"RecordLog({self.snapshot()!r})"


@dataclass
class Fault:
    """A fault to apply to the next `times` requests matching `pattern` (forever when None)."""

    kind: FaultKind
    pattern: re.Pattern[str] | None
    times: int | None
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def matches(self, request: RecordedRequest) -> bool:
        # The path alone lets `/categories$` match every page; the full target lets `page=2`.
        if self.pattern is None:
            return True
        return bool(self.pattern.search(request.path) or self.pattern.search(request.target))


class FaultBook:
    """The registered faults, matched in order of registration."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        if fault.times is None or fault.times > 0:
            with self._lock:
                self._faults.append(fault)
        return fault

    def take(self, request: RecordedRequest) -> Fault | None:
        """Return the first fault matching `request`, using up one of its times."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


@dataclass
class Reply:
    """A JSON answer."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


class StandInServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records requests and applies faults.

    Parameters:
      host(str): The address to bind.
      port(int): The port to bind; a free one when 0 (kept across a stop and a restart).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self.latency: float = 0.0
        self.requests: RecordLog[RecordedRequest] = RecordLog()
        self.faults = FaultBook()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        if self._httpd is None and self._port == 0:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Serve in a background thread until `stop()`; return self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _QuietServer((self.host, self._port), self)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: release held requests and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections(wait=1.0)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def request_count(self, path_prefix: str | None = None) -> int:
        """Count the recorded requests whose path starts with `path_prefix` (all when None)."""
        return sum(
            1 for r in self.requests if path_prefix is None or r.path.startswith(path_prefix)
        )

    def clear_requests(self) -> None:
        self.requests.clear()

    def clear_faults(self) -> None:
        self.faults.clear()

    def add_fault(
        self,
        kind: FaultKind,
        path_regex: str | re.Pattern[str] | None,
        *,
        times: int | None = None,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        seconds: float = 0.0,
    ) -> Fault:
        """Register a fault for requests matching `path_regex` (every request when None)."""
        pattern = re.compile(path_regex) if isinstance(path_regex, str) else path_regex
        fault = Fault(kind, pattern, times, status, body, dict(headers or {}), seconds)
        return self.faults.add(fault)

    def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when the server stops meanwhile."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- what subclasses provide -------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        """Return the normal answer to `request`."""
        raise NotImplementedError

    def fault_reply(self, request: RecordedRequest, fault: Fault) -> Reply:
        """Return the answer of an injected failure."""
        return Reply(fault.status, fault.body, fault.headers)

    def observe(self, request: RecordedRequest, reply: Reply | None, fault: Fault | None) -> None:
        """Note the outcome of `request`: `reply` is None when the connection was dropped."""

    # -- the one implementation of faults ------------------------------------------------

    def respond(self, request: RecordedRequest) -> Reply | None:
        """Return the answer to `request`, or None to close the connection without one."""
        self.requests.append(request)
        self.pause(self.latency)
        fault = self.faults.take(request)
        if fault is not None and fault.kind == "drop":
            self.observe(request, None, fault)
            return None
        try:
            if fault is not None and fault.kind == "fail":
                reply = self.fault_reply(request, fault)
            else:
                reply = self.route(request)
        except Exception as exc:
            # A bug in a stand-in must show, not pass for an upstream failure.
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, {"error": "stand-in error", "detail": repr(exc)})
        self.observe(request, reply, fault)
        if fault is not None and fault.kind == "timeout":
            self.pause(fault.seconds)
        return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localdev"
    # Headers and body leave in one segment: no Nagle / delayed-ACK stalls on small answers.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: _QuietServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers=Headers(self.headers.items()),
            body=body,
            received_at=time.time(),
            received_monotonic=time.monotonic(),
        )
        reply = self.server.stand_in.respond(request)
        if reply is None:
            self.close_connection = True
            return
        data = reply.encode()
        self.send_response(reply.status)
        if not any(name.lower() == "content-type" for name in reply.headers):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], stand_in: StandInServer) -> None:
        self.stand_in = stand_in
        self._open: set[socket.socket] = set()
        self._open_changed = threading.Condition()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can be slow.
        TCPServer.server_bind(self)
        host, self.server_port = self.socket.getsockname()[:2]
        self.server_name = str(host)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_changed:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._open_changed:
            self._open.discard(request)
            self._open_changed.notify_all()

    def close_connections(self, wait: float) -> None:
        """Shut every open connection down, then wait for their threads to close them."""
        with self._open_changed:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._open_changed.wait_for(lambda: not self._open, wait)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up are part of the tests, not errors.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        traceback.print_exc(file=sys.stderr)
