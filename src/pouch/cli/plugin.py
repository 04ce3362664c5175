"""``plugin ls``: the daemon's plugins, their settings and what they have done."""

import json
from collections.abc import Mapping
from typing import Any

import click

from ._shared import make_client
from .table import format_table

_HEADERS = ("NAME", "KIND", "POINTS", "POLICY", "TIMEOUT", "CALLS", "ERRORS",
            "LAST ERROR")  # fmt: skip


@click.group()
def plugin() -> None:
    """Manage the daemon's plugins."""


@plugin.command("ls")
@click.option("--format", "format_", metavar="json", help="Print the raw JSON.")
@click.pass_context
def ls(ctx: click.Context, format_: str | None) -> None:
    """List plugins: kind, points, policy and timeout per point, calls, errors."""
    plugins = make_client(ctx).call("GET", "/plugins")
    if format_ == "json":
        click.echo(json.dumps(plugins, indent=2))
        return
    click.echo(format_table(_HEADERS, [_row(p) for p in plugins]))


def _row(plugin: Mapping[str, Any]) -> list[str]:
    settings = plugin.get("Settings") or {}
    return [
        str(plugin.get("Name", "")),
        str(plugin.get("Kind", "")),
        ",".join(plugin.get("Points") or []) or "-",
        _per_point(settings, "Policy"),
        _per_point(settings, "Timeout", suffix="s"),
        str(plugin.get("Calls", 0)),
        str(plugin.get("Errors", 0)),
        str(plugin.get("LastError") or "-"),
    ]


def _per_point(settings: Mapping[str, Any], key: str, suffix: str = "") -> str:
    """One value if every point shares it, else ``point=value`` pairs."""
    values = {p: f"{s[key]:g}{suffix}" if isinstance(s[key], float) else f"{s[key]}"
              for p, s in settings.items()}  # fmt: skip
    if not values:
        return "-"
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return ",".join(f"{p}={v}" for p, v in values.items())
