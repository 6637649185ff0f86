"""What every command shares: the runtime, a transaction, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import redis
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from bot.context import runtime
from store.credentials import CredentialError
from store.redis import is_unconfigured
from store.restaurants import InvalidRestaurant


@contextmanager
def command_transaction() -> Iterator[Session]:
    """Run the block in one transaction; turn input errors into one line on stderr, exit 1.

    Nothing is half-written: any error rolls the whole command back.
    """
    try:
        with runtime().transaction() as session:
            yield session
    except (InvalidRestaurant, CredentialError) as error:
        raise click.ClickException(str(error)) from None


class WholeNumber(click.ParamType):
    """An integer option with a lower bound; bad input is one line and exit code 1.

    (Click's own types raise a usage error: three lines and exit code 2.)
    """

    name = "integer"

    def __init__(self, minimum: int = 0, maximum: int = 2**31 - 1) -> None:
        self.minimum, self.maximum = minimum, maximum  # default: what an INTEGER column holds

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        label = param.opts[0] if param is not None and param.opts else "value"
        try:
            number = int(str(value).strip())
        except ValueError:
            raise click.ClickException(f"{label}: expected a whole number, got {value!r}") from None
        if number < self.minimum:
            raise click.ClickException(f"{label}: must be {self.minimum} or more, got {number}")
        if number > self.maximum:
            raise click.ClickException(f"{label}: must be {self.maximum} or less, got {number}")
        return number


def fail(message: str) -> None:
    """Stop the command with `message` on stderr and exit code 1."""
    raise click.ClickException(message)


@contextmanager
def _backing_services_in_one_line() -> Iterator[None]:
    # Redis or the database down, or a schema not migrated: one line, not a traceback.
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        if is_unconfigured(error):
            raise click.ClickException("REDIS_URL is not set (this command needs Redis)") from None
        raise click.ClickException(f"Redis is unreachable: {error}") from None
    except (OperationalError, ProgrammingError) as error:
        first = str(error.orig or error).strip().splitlines()[0]
        raise click.ClickException(
            f"database error: {first} (is DATABASE_URL right, and the schema migrated?"
            " flask --app bot db upgrade)"
        ) from None


def _one_line(error: click.UsageError) -> click.ClickException:
    where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return click.ClickException(error.format_message() + where)


class Command(click.Command):
    """A command whose usage errors (missing or unknown option, bad value) are one line
    on stderr and exit code 1, like every other bad input (Click's own: a usage block
    and exit code 2)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _one_line(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        with _backing_services_in_one_line():
            return super().invoke(ctx)


class Group(Command, click.Group):
    """A command group with `Command`'s one-line errors, for its commands too."""

    command_class = Command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise _one_line(error) from None


def flag_pair(yes: bool, no: bool, names: tuple[str, str]) -> bool | None:
    """Read a pair of opposite flags (e.g. --active, --inactive): True, False, or None
    when neither is given; both is bad input (Click's `--a/--b` lets the last one win)."""
    if yes and no:
        fail(f"{names[0]} and {names[1]} contradict each other: give one of them")
    return True if yes else False if no else None
