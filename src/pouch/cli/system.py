"""``version`` and ``info``: what is running, laid out as docker lays it out.

Both print the client's part first, so a reader still learns what the client is
when the daemon cannot be reached.
"""

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click

from pouch import __version__

from ._shared import make_client

_API_VERSION = "1.43"
_LABEL_WIDTH = 20
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


@click.command()
@click.pass_context
def version(ctx: click.Context) -> None:
    """Show the client and daemon versions."""
    click.echo("\n".join(client_version_lines()))
    server = make_client(ctx).version()
    click.echo("\n" + "\n".join(server_version_lines(server)))


def client_version_lines() -> list[str]:
    python = ".".join(str(part) for part in sys.version_info[:3])
    return [
        "Client:",
        *_fields(
            1,
            [
                ("Version", __version__),
                ("API version", _API_VERSION),
                ("Python version", python),
                ("OS/Arch", f"{sys.platform}/{_arch()}"),
            ],
        ),
    ]


def server_version_lines(server: Mapping[str, Any]) -> list[str]:
    """The Engine section, then one section per component the daemon reports."""
    api = server.get("ApiVersion", "")
    if server.get("MinAPIVersion"):
        api += f" (minimum version {server['MinAPIVersion']})"
    engine = [
        ("Version", server.get("Version", "")),
        ("API version", api),
        ("Git commit", server.get("GitCommit")),
        ("Built", server.get("BuildTime")),
        ("OS/Arch", f"{server.get('Os', '')}/{server.get('Arch', '')}"),
        ("Kernel version", server.get("KernelVersion")),
    ]
    lines = ["Server:", " Engine:", *_fields(2, engine)]
    for component in server.get("Components") or ():
        if component.get("Name") in (None, "Engine"):
            continue
        details = [("Version", component.get("Version", ""))]
        details += sorted((component.get("Details") or {}).items())
        lines += [f" {component['Name']}:", *_fields(2, details)]
    return lines


def _fields(indent: int, pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """``Label:`` padded so that every value starts in the same column."""
    pad = " " * indent
    width = _LABEL_WIDTH - indent
    return [
        f"{pad}{(label + ':').ljust(width)}{value}"
        for label, value in pairs
        if value is not None
    ]


def _arch() -> str:
    machine = os.uname().machine
    return _ARCH.get(machine, machine)


@click.command()
@click.pass_context
def info(ctx: click.Context) -> None:
    """Show system-wide information, including the daemon's plugins."""
    settings_debug = bool(getattr(ctx.obj, "debug", False))
    click.echo("Client:")
    click.echo(f" Version:    {__version__}")
    click.echo(f" Debug Mode: {_bool(settings_debug)}")
    document = make_client(ctx).info()
    click.echo("\n" + "\n".join(info_lines(document)))


def info_lines(info: Mapping[str, Any]) -> list[str]:
    """The Server section of ``info``, with pouch's Plugins sub-section."""
    lines = ["Server:"]
    lines += _counts(info)
    lines += _pairs(info, _ENGINE_FIELDS)
    lines += plugin_lines(info.get("PouchPlugins") or ())
    lines += _pairs(info, _HOST_FIELDS)
    if info.get("MemTotal") is not None:
        from .units import binary_size

        lines.append(f" Total Memory: {binary_size(info['MemTotal'])}")
    lines += _pairs(info, _TAIL_FIELDS)
    labels = info.get("Labels") or ()
    if labels:
        lines += [" Labels:", *(f"  {label}" for label in labels)]
    return lines


def plugin_lines(plugins: Iterable[Mapping[str, Any]]) -> list[str]:
    """`` Plugins:`` then ``  name: point point`` for each loaded plugin."""
    lines = [" Plugins:"]
    for plugin in plugins:
        points = " ".join(plugin.get("Points") or ())
        lines.append(f"  {plugin.get('Name', '')}: {points}".rstrip())
    return lines


def _counts(info: Mapping[str, Any]) -> list[str]:
    return [
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
    ]


_ENGINE_FIELDS = (
    ("Server Version", "ServerVersion"),
    ("Storage Driver", "Driver"),
    ("Logging Driver", "LoggingDriver"),
    ("Cgroup Driver", "CgroupDriver"),
    ("Cgroup Version", "CgroupVersion"),
    ("Default Runtime", "DefaultRuntime"),
)
_HOST_FIELDS = (
    ("Kernel Version", "KernelVersion"),
    ("Operating System", "OperatingSystem"),
    ("OSType", "OSType"),
    ("Architecture", "Architecture"),
    ("CPUs", "NCPU"),
)
_TAIL_FIELDS = (
    ("Name", "Name"),
    ("ID", "ID"),
    ("Pouch Root Dir", "DockerRootDir"),
    ("Debug Mode", "Debug"),
    ("Experimental", "ExperimentalBuild"),
)


def _pairs(info: Mapping[str, Any], fields: Iterable[tuple[str, str]]) -> list[str]:
    return [
        f" {label}: {_value(info[key])}"
        for label, key in fields
        if info.get(key) not in (None, "")
    ]


def _value(value: Any) -> str:
    return _bool(value) if isinstance(value, bool) else str(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"
