"""Schemathesis against the document the app serves: no 500s, no answer outside the schema.

The schema is loaded eagerly from `usage_api.openapi.DOCUMENT` (the lazy fixture loader
of schemathesis 4.32 reads a pytest node attribute that pytest 9 removed); a test below
checks that the app serves exactly that document. Each run is bounded by `EXAMPLES`.
"""

import datetime as dt
from typing import ClassVar

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.usage_api.conftest import (
    NOW,
    add_restaurant,
    admin_headers,
    open_conversation,
    owner_headers,
)
from usage_api.openapi import DOCUMENT

EXAMPLES = 100
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# The app is built per test (on that test's rolled-back session): requests, including
# the probes of schemathesis's own checks, reach it through this forwarding WSGI app.
APPS: list[Flask] = []


def current_app(environ, start_response):
    return APPS[-1](environ, start_response)


# Every check runs with both credentials.
# Operations whose 400 depends on the credential, which a schema cannot express (an
# accepted answer to "valid" data there): `GET /api/usage`'s limit/offset are documented as
# any text, because a PAT call ignores them (SPEC §8) while an API key call answers 400 to
# text that is not a number; the alert endpoints' `restaurantId`, `POST /api/imports`'s and
# `GET /api/insights`' are optional for a PAT and required (400 `missing_restaurant_id`) for
# an API key; and insights' `from` may not be after `to` nor 366 days before it (a rule on
# two parameters together, which JSON Schema cannot say either).
CREDENTIAL_DEPENDENT_400 = (
    "listUsage",
    "startOrderImport",
    "getInsights",
    "getAlerts",
    "replaceAlertRules",
    "addAlertChannel",
    "deleteAlertChannel",
    "sendTestAlert",
)
ACCEPTED_WITH_400 = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-operation-id": operation_id,
                "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_WITH_400}},
            }
            for operation_id in CREDENTIAL_DEPENDENT_400
        ]
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = current_app

# The running test's credentials, minted by `seeded` and read by the auth providers.
CREDENTIALS: dict[str, dict[str, str]] = {}


class _Credentials:
    """Hand schemathesis the test's real credentials, so it knows which auth is valid."""

    role: ClassVar[str]

    def get(self, case, ctx):
        return CREDENTIALS.get(self.role)

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), **data}


class AdminKey(_Credentials):
    role = "admin"


class OwnerToken(_Credentials):
    role = "owner"


@pytest.fixture
def seeded(app, db_session, settings, clock):
    add_restaurant(db_session, settings, "r1", timezone="Asia/Riyadh")
    add_restaurant(db_session, settings, "r2")
    open_conversation(db_session, "r1", NOW - dt.timedelta(hours=1))
    CREDENTIALS["owner"] = owner_headers(db_session, "r1")
    CREDENTIALS["admin"] = admin_headers(db_session)
    APPS.append(app)
    yield
    APPS.clear()
    CREDENTIALS.clear()


def test_the_app_serves_the_document_schemathesis_reads(client):
    assert client.get("/api/openapi.json").json == DOCUMENT


@schema.parametrize()
@schema.auth.apply(AdminKey, refresh_interval=None)
@BOUNDED
def test_answers_to_an_admin_are_as_documented(case, seeded):
    case.call_and_validate()


@schema.parametrize()
@schema.auth.apply(OwnerToken, refresh_interval=None)
@BOUNDED
def test_answers_to_an_owner_are_as_documented(case, seeded):
    case.call_and_validate()


@schema.parametrize()
@BOUNDED
def test_answers_to_generated_credentials_are_as_documented(case, seeded):
    case.call_and_validate()
