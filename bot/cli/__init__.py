"""The `flask --app bot …` commands (SPEC §10). Logs go to stderr; stdout has only results."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every command group on `app`."""
    from bot.cli import (
        alerts,
        cache,
        credentials,
        database,
        dead_letters,
        demo,
        insights,
        order_imports,
        restaurants,
        simulate,
    )

    app.cli.add_command(database.db)
    app.cli.add_command(restaurants.restaurants)
    app.cli.add_command(credentials.tokens)
    app.cli.add_command(credentials.api_keys)
    app.cli.add_command(demo.demo)
    app.cli.add_command(simulate.simulate)
    app.cli.add_command(cache.cache)
    app.cli.add_command(dead_letters.dead_letters)
    app.cli.add_command(order_imports.order_imports)
    app.cli.add_command(alerts.alerts)
    app.cli.add_command(insights.insights)
    app.cli.add_command(insights.batches_group)
