"""Dialect-specific SQL we rely on: `INSERT … ON CONFLICT` on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def upsert_for(dialect: str) -> Callable[[Any], Any]:
    """Return the `insert` construct with `on_conflict_do_*` for `dialect`."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {dialect} dialect (PostgreSQL or SQLite)")
