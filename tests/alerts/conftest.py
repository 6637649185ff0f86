"""Fixtures for alerts: a webhook receiver and an SMTP server (real servers on 127.0.0.1),
settings with a SECRETS_KEY, and the usage API's helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import Engine, event

from localdev.smtp_server import SmtpServer
from localdev.webhook_receiver import WebhookReceiver
from store.settings import Settings
from tests.usage_api.conftest import NOW, Clock, StatementLog
from usage_api.clock import CLOCK

SECRETS_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def receiver(receiver_server: WebhookReceiver) -> Iterator[WebhookReceiver]:
    """The webhook receiver, emptied for each test."""
    receiver_server.clear_requests()
    receiver_server.clear_faults()
    receiver_server.secrets.clear()
    receiver_server.latency = 0.0
    yield receiver_server
    receiver_server.clear_faults()


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    smtp_server_session.clear()
    return smtp_server_session


@pytest.fixture
def settings(base_settings: Settings, smtp_server_session: SmtpServer) -> Settings:
    return base_settings.replace(
        secrets_key=SECRETS_KEY,
        alert_webhook_allow_private=True,
        smtp_url=smtp_server_session.url,
        smtp_from="alerts@restaurant-bot.example",
    )


@pytest.fixture
def clock(app: Flask) -> Clock:
    frozen = Clock(NOW)
    app.config[CLOCK] = frozen
    return frozen


@pytest.fixture
def statements(engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)
