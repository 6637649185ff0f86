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
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

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


# What JSON Schema cannot say about a query: an admin must name the restaurant of
# `GET /api/insights`, and its `from` may not be after `to` nor 366 days before it. Those
# schema-valid requests are answered 400 (as documented); every other check still runs.
def beyond_the_schema(case):
    return [positive_data_acceptance] if case.operation.path == "/api/insights" else []


def current_app(environ, start_response):
    return APPS[-1](environ, start_response)


schema = schemathesis.openapi.from_dict(DOCUMENT)
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
    case.call_and_validate(excluded_checks=beyond_the_schema(case))


@schema.parametrize()
@schema.auth.apply(OwnerToken, refresh_interval=None)
@BOUNDED
def test_answers_to_an_owner_are_as_documented(case, seeded):
    # An owner's limit/offset are ignored (SPEC §8), even malformed: not a rejection.
    case.call_and_validate(excluded_checks=[negative_data_rejection, *beyond_the_schema(case)])


@schema.parametrize()
@BOUNDED
def test_answers_to_generated_credentials_are_as_documented(case, seeded):
    case.call_and_validate()
