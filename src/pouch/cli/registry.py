"""Registry commands: ``pull``, ``push``, ``login``, ``logout``.

Credentials live in docker's config.json (``~/.docker/config.json``), so ``pouch``
and ``docker`` share logins; they travel to the daemon in ``X-Registry-Auth``.
Progress draws with rich, imported only here and only when stdout is a terminal:
other commands start without it.
"""

import sys
from collections.abc import Iterable
from typing import Any

import click

from ._shared import Failure, make_client


def _auth_header(name: str) -> dict[str, str]:
    """``X-Registry-Auth`` for the registry ``name`` lives on, if logged in."""
    from pouch.ctrd import reference
    from pouch.registry import auth

    try:
        domain = reference.normalize(name).split("/", 1)[0]
        creds = auth.load_credentials(domain)
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from exc
    if creds is None:
        return {}
    return {"X-Registry-Auth": auth.encode_header(creds, auth.server_key(domain))}


def _messages(stream: Any) -> Iterable[Any]:
    from pouch.client.streams import iter_json_messages

    return iter_json_messages(stream.chunks())


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")
@click.argument("name")
@click.pass_context
def pull(ctx: click.Context, quiet: bool, name: str) -> None:
    """Pull an image from a registry."""
    client = make_client(ctx)
    stream = client.request(
        "POST", "/images/create", {"fromImage": name}, None, _auth_header(name)
    )
    _show(_messages(stream), quiet)
    if quiet:
        click.echo(name)


def pull_for_run(client: Any, name: str) -> None:
    """The pull ``run`` and ``create`` make for an image that is not there: its
    status lines on stderr, as docker's are, so stdout stays the container's."""
    stream = client.request(
        "POST", "/images/create", {"fromImage": name}, None, _auth_header(name)
    )
    for message in _messages(stream):
        _raise_error(message)
        if isinstance(message, dict) and not message.get("progressDetail"):
            line = _line(message)
            if line:
                click.echo(line, err=True)


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")
@click.argument("name")
@click.pass_context
def push(ctx: click.Context, quiet: bool, name: str) -> None:
    """Push an image to a registry."""
    from urllib.parse import quote

    client = make_client(ctx)
    path = f"/images/{quote(name, safe='/:@')}/push"
    stream = client.request("POST", path, None, None, _auth_header(name))
    _show(_messages(stream), quiet)


@click.command()
@click.option("-u", "--username", help="Username.")
@click.option("-p", "--password", help="Password.")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin.")
@click.argument("server", required=False, default="")
@click.pass_context
def login(
    ctx: click.Context,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    server: str,
) -> None:
    """Log in to a registry; the daemon checks the credentials first."""
    from pouch.registry import auth

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    username = username or click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    body = {"username": username, "password": password, "serveraddress": server}
    make_client(ctx).call("POST", "/auth", None, body)
    domain = _domain(server)
    path = auth.store_credentials(domain, auth.Credentials(username, password))
    click.echo(f"WARNING! Your password will be stored unencrypted in {path}.")
    click.echo("Login Succeeded")


@click.command()
@click.argument("server", required=False, default="")
def logout(server: str) -> None:
    """Log out from a registry (forget its credentials)."""
    from pouch.registry import auth

    domain = _domain(server)
    if auth.remove_credentials(domain):
        click.echo(f"Removing login credentials for {auth.server_key(domain)}")
    else:
        click.echo(f"Not logged in to {auth.server_key(domain)}")


def _domain(server: str) -> str:
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("", "index.docker.io", "registry-1.docker.io", "docker.io"):
        return "docker.io"
    return host


# -- progress ---------------------------------------------------------------------


_FINISHED = ("Pull complete", "Already exists", "Pushed", "Layer already exists")


def _show(messages: Iterable[Any], quiet: bool) -> None:
    """Draw the daemon's messages: bars on a terminal, lines otherwise (the
    ``Downloading``/``Pushing`` updates only make sense as bars)."""
    if not quiet and sys.stdout.isatty():
        _bars(messages)
        return
    for message in messages:
        _raise_error(message)
        if quiet or not isinstance(message, dict) or message.get("progressDetail"):
            continue
        line = _line(message)
        if line:
            click.echo(line)


def _raise_error(message: Any) -> None:
    if isinstance(message, dict) and message.get("error"):
        raise Failure(str(message["error"]))


def _line(message: Any) -> str:
    if not isinstance(message, dict) or "status" not in message:
        return ""
    if message.get("id"):
        return f"{message['id']}: {message['status']}"
    return str(message["status"])


def _bars(messages: Iterable[Any]) -> None:
    """One bar per layer id, with rich's progress display."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    tasks: dict[str, Any] = {}
    with bars:
        for message in messages:
            _raise_error(message)
            if not isinstance(message, dict) or "status" not in message:
                continue
            status = str(message["status"])
            layer = message.get("id")
            if not layer or status.startswith("Pulling from"):
                bars.console.print(_line(message))
                continue
            if layer not in tasks:
                tasks[layer] = bars.add_task(layer, total=None)
            detail = message.get("progressDetail") or {}
            update: dict[str, Any] = {"description": f"{layer}: {status}"}
            if detail.get("total"):
                update.update(completed=detail.get("current", 0), total=detail["total"])
            elif status in _FINISHED:
                update.update(completed=1, total=1)
            bars.update(tasks[layer], **update)
