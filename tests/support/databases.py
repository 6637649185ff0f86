"""A database of the test run's own: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

import alerts.models  # noqa: F401  (its tables too)
import imports.models  # noqa: F401  (their tables are emptied too)
import insights.models  # noqa: F401  (their tables are emptied too)
import operations.models  # noqa: F401  (their tables are emptied too)
import signin.models  # noqa: F401
from store.db import make_engine, normalize_database_url
from store.migrations import upgrade
from store.models import Base


def backend_name() -> str:
    """Return "postgresql" when TEST_DATABASE_URL is set, else "sqlite"."""
    return "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"


@contextmanager
def run_database(tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database for this run; drop it afterwards."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{tmp_dir / 'test.db'}"
        return
    url = make_url(normalize_database_url(server_url))
    name = f"test_rb_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_engine(database_url: str) -> Engine:
    """Return an engine on `database_url` after running every migration."""
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def delete_all_rows(engine: Engine) -> None:
    """Empty every table (committed-data tests clean up after themselves)."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our table names)
