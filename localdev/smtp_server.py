"""A real SMTP server on 127.0.0.1 that keeps what it receives (aiosmtpd), for tests.

`refuse` holds recipient addresses answered `550` (a permanent refusal); `defer` those
answered `451` (try again later).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any, Self

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One accepted e-mail."""

    sender: str
    recipients: list[str]
    message: Message


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 no such user"
        if address in self.server.defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(data))
        with self.server.lock:
            self.server.received.append(received)
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 (a free port), in a thread of its own."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from localdev.embedded_redis import free_port

        self.host = host
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.refuse.clear()
        self.defer.clear()

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
