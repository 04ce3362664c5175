"""``volume create|ls|inspect|rm|prune``, as docker spells them."""

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import click

from ._shared import Failure, exit_with, for_each, inspect_each, make_client

# docker lays out ``volume ls`` with a minimum column width of 10.
_MIN_WIDTH = 10
_PADDING = 3


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    found = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise Failure(f'invalid argument "{item}" for "{flag}": expected key=value')
        found[key] = value if sep else ""
    return found


def _filters(values: Sequence[str]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise Failure(f'bad format of filter (expected name=value): "{item}"')
        grouped.setdefault(key, []).append(value)
    return {"filters": json.dumps(grouped)} if grouped else {}


def _path(name: str) -> str:
    return f"/volumes/{quote(name, safe='')}"


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command()
@click.option("-d", "--driver", default="local", help="Volume driver (only local).")
@click.option("--label", multiple=True, help="Set metadata key=value.")
@click.option("-o", "--opt", multiple=True, help="Driver option key=value.")
@click.argument("name", required=False, default="")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    driver: str,
    label: tuple[str, ...],
    opt: tuple[str, ...],
) -> None:
    """Create a volume and print its name."""
    body = {
        "Name": name,
        "Driver": driver,
        "Labels": _pairs(label, "--label"),
        "DriverOpts": _pairs(opt, "-o, --opt"),
    }
    created = make_client(ctx).call("POST", "/volumes/create", None, body)
    click.echo(created["Name"])


@volume.command(name="ls")
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter key=value.")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, filters: tuple[str, ...]) -> None:
    """List volumes."""
    query = _filters(filters)
    found = make_client(ctx).call("GET", "/volumes", query or None)["Volumes"] or []
    found.sort(key=lambda v: v["Name"])
    if quiet:
        for v in found:
            click.echo(v["Name"])
        return
    rows = [("DRIVER", "VOLUME NAME")] + [(v["Driver"], v["Name"]) for v in found]
    width = max(_MIN_WIDTH, *(len(driver) + _PADDING for driver, _ in rows))
    click.echo("\n".join(f"{driver:<{width}}{name}" for driver, name in rows))


@volume.command()
@click.option("-f", "--format", "template", help="Format with a Go template.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, template: str | None, names: tuple[str, ...]) -> None:
    """Show volumes as JSON."""
    found, missing = inspect_each(make_client(ctx), names, _path)
    if template is None:
        click.echo(json.dumps(found, indent=4, ensure_ascii=False))
    else:
        _render(found, template)
    for name in missing:
        click.echo(f"Error: No such volume: {name}", err=True)
    if missing:
        exit_with(1)


def _render(documents: list[Any], template: str) -> None:
    from .gotemplate import TemplateError, render

    for document in documents:
        try:
            click.echo(render(template, document))
        except TemplateError as exc:
            raise Failure(f"Template parsing error: {exc}") from exc


@volume.command()
@click.option("-f", "--force", is_flag=True, help="Do not fail on a missing volume.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, force: bool, names: tuple[str, ...]) -> None:
    """Remove volumes."""
    client = make_client(ctx)
    query = {"force": True} if force else None
    for_each(names, lambda name: client.call("DELETE", _path(name), query))


@volume.command()
@click.option("-a", "--all", "every", is_flag=True, help="Named volumes too.")
@click.option("-f", "--force", is_flag=True, help="Do not ask (pouch never asks).")
@click.option("--filter", "filters", multiple=True, help="Filter key=value.")
@click.pass_context
def prune(
    ctx: click.Context, every: bool, force: bool, filters: tuple[str, ...]
) -> None:
    """Remove unused anonymous volumes (all unused ones with --all)."""
    from .units import human_size

    wanted = list(filters) + (["all=true"] if every else [])
    query = _filters(wanted)
    report = make_client(ctx).call("POST", "/volumes/prune", query or None)
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        click.echo("Deleted Volumes:")
        click.echo("\n".join(deleted))
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed', 0))}")
