"""``network create|ls|inspect|rm|connect|disconnect|prune``, as docker spells them."""

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import click

from ._shared import Failure, exit_with, for_each, inspect_each, make_client
from .table import format_table, short_id

_HEADERS = ("NETWORK ID", "NAME", "DRIVER", "SCOPE")


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    found = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise Failure(f'invalid argument "{item}" for "{flag}": expected key=value')
        found[key] = value
    return found


def _path(name: str, tail: str = "") -> str:
    return f"/networks/{quote(name, safe='')}{tail}"


@click.group()
def network() -> None:
    """Manage networks."""


@network.command()
@click.option("-d", "--driver", default="bridge", help="Driver (only bridge).")
@click.option("--subnet", help="Subnet in CIDR form.")
@click.option("--gateway", help="Gateway of the subnet.")
@click.option("--ip-range", help="Allocate container addresses from this range.")
@click.option("--internal", is_flag=True, help="No way out of the network.")
@click.option("--label", multiple=True, help="Set metadata key=value.")
@click.option("-o", "--opt", multiple=True, help="Driver option key=value.")
@click.argument("name")
@click.pass_context
def create(
    ctx: click.Context,
    /,
    name: str,
    driver: str,
    subnet: str | None,
    gateway: str | None,
    ip_range: str | None,
    internal: bool,
    label: tuple[str, ...],
    opt: tuple[str, ...],
) -> None:
    """Create a network and print its id."""
    ipam = {"Subnet": subnet, "Gateway": gateway, "IPRange": ip_range}
    body: dict[str, Any] = {
        "Name": name,
        "Driver": driver,
        "Internal": internal,
        "Labels": _pairs(label, "--label"),
        "Options": _pairs(opt, "-o, --opt"),
        "IPAM": {"Config": [{k: v for k, v in ipam.items() if v}] if subnet else []},
    }
    created = make_client(ctx).call("POST", "/networks/create", None, body)
    click.echo(created["Id"])


@network.command(name="ls")
@click.option("-q", "--quiet", is_flag=True, help="Only ids.")
@click.option("--no-trunc", is_flag=True, help="Do not shorten ids.")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, no_trunc: bool) -> None:
    """List networks."""
    found = make_client(ctx).call("GET", "/networks")
    found.sort(key=lambda n: n["Name"])
    ids = [n["Id"] if no_trunc else short_id(n["Id"]) for n in found]
    if quiet:
        click.echo("\n".join(ids))
        return
    rows = [
        [shown, n["Name"], n["Driver"], n["Scope"]]
        for n, shown in zip(found, ids, strict=True)
    ]
    click.echo(format_table(_HEADERS, rows))


@network.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Show networks as JSON."""
    found, missing = inspect_each(make_client(ctx), names, _path)
    click.echo(json.dumps(found, indent=4, ensure_ascii=False))
    for name in missing:
        click.echo(f"Error: No such network: {name}", err=True)
    if missing:
        exit_with(1)


@network.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove networks."""
    client = make_client(ctx)
    for_each(names, lambda name: client.call("DELETE", _path(name)))


@network.command()
@click.option("--ip", help="IPv4 address on the network.")
@click.option("--alias", multiple=True, help="Add a name on the network.")
@click.argument("name")
@click.argument("container")
@click.pass_context
def connect(
    ctx: click.Context,
    ip: str | None,
    alias: tuple[str, ...],
    name: str,
    container: str,
) -> None:
    """Connect a container to a network."""
    endpoint: dict[str, Any] = {"Aliases": list(alias) or None}
    if ip:
        endpoint["IPAMConfig"] = {"IPv4Address": ip}
    body = {"Container": container, "EndpointConfig": endpoint}
    make_client(ctx).call("POST", _path(name, "/connect"), None, body)


@network.command()
@click.option("-f", "--force", is_flag=True, help="Force the disconnection.")
@click.argument("name")
@click.argument("container")
@click.pass_context
def disconnect(ctx: click.Context, force: bool, name: str, container: str) -> None:
    """Disconnect a container from a network."""
    body = {"Container": container, "Force": force}
    make_client(ctx).call("POST", _path(name, "/disconnect"), None, body)


@network.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask (pouch never asks).")
@click.pass_context
def prune(ctx: click.Context, force: bool) -> None:
    """Remove all networks no container uses."""
    deleted = make_client(ctx).call("POST", "/networks/prune")["NetworksDeleted"]
    if deleted:
        click.echo("Deleted Networks:")
        click.echo("\n".join(deleted))
