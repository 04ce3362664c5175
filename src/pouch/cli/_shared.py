"""What every command shares: the client it talks through and how failures print.

A failed command prints one line on stderr and exits non-zero, as docker does; the
group catches client errors in one place (``main.PouchGroup``), so commands only
raise.
"""

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from pouch.client import Client


class Settings:
    """The group's options, handed to each command through ``ctx.obj``.

    A plain class: ``dataclasses`` would add milliseconds to every start.
    """

    def __init__(self, host: str | None = None, debug: bool = False) -> None:
        self.host = host
        self.debug = debug


class Failure(Exception):
    """A command failed for a reason already worded for the user.

    The group prints ``message`` as the one error line and exits with
    ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def make_client(ctx: click.Context) -> "Client":
    """A client for the host the group was given (``-H``, ``POUCH_HOST``, default)."""
    from pouch.client import Client

    settings = ctx.find_object(Settings) or Settings()
    tracer = _trace if settings.debug else None
    try:
        return Client(settings.host, tracer=tracer)
    except ValueError as exc:
        raise Failure(str(exc)) from exc


def _trace(line: str) -> None:
    click.echo(f"DEBU[client] {line}", err=True)


def error_line(exc: BaseException) -> str:
    """The one line a client error prints as (docker's wording)."""
    from pouch.client import APIError, DaemonUnreachable

    if isinstance(exc, APIError):
        return f"Error response from daemon: {exc.message}"
    if isinstance(exc, DaemonUnreachable):
        return f"Cannot connect to the pouchd daemon at {exc.host}: is pouchd running?"
    return f"Error: {exc}"


def for_each(names: Iterable[str], action: Callable[[str], str | None]) -> None:
    """Apply ``action`` to each name; print its result (the name if it returns
    none) or its error line.

    Like docker, one bad name does not stop the others; the exit status is 1 if any
    failed. An unreachable daemon stops everything at once.
    """
    from pouch.client import APIError

    failed = False
    for name in names:
        try:
            output = action(name)
        except APIError as exc:
            click.echo(error_line(exc), err=True)
            failed = True
            continue
        click.echo(name if output is None else output)
    if failed:
        exit_with(1)


def exit_with(code: int) -> NoReturn:
    sys.stdout.flush()
    raise click.exceptions.Exit(code)


def inspect_each(
    client: "Client", names: Iterable[str], path: Callable[[str], str]
) -> tuple[list[Any], list[str]]:
    """The documents of the objects that exist, and the names of those that do not,
    as ``inspect`` commands show both."""
    from pouch.client import APIError

    found, missing = [], []
    for name in names:
        try:
            found.append(client.call("GET", path(name)))
        except APIError as exc:
            if not exc.is_not_found:
                raise
            missing.append(name)
    return found, missing
