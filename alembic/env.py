"""Alembic environment: migrates the database of `DATABASE_URL` (or the URL passed in)."""

from __future__ import annotations

from sqlalchemy import Connection

import alerts.models  # noqa: F401  (its tables are migrated and cleaned too)
import imports.models  # noqa: F401  (the import tables, for autogenerate and comparison)
import insights.models  # noqa: F401  (its tables, for autogenerate and comparison)
import operations.models  # noqa: F401  (their tables are part of the schema)
import signin.models  # noqa: F401
from alembic import context
from store.db import make_engine
from store.models import Base
from store.settings import Settings

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `flask --app bot db upgrade`")
run_migrations()
