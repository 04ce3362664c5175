"""The ``pouch`` command group and its entry point.

Start-up time matters for a CLI run in loops by scripts, so only the module of the
command being run is imported (``--help`` imports them all for their summaries),
and command modules import the HTTP client inside the commands that use it.
"""

from importlib import import_module
from typing import Any, NoReturn

import click

from pouch import __version__

from ._shared import Failure, Settings, error_line

# Command name -> the module under pouch.cli that defines it.
_COMMANDS = {
    "version": "system",
    "info": "system",
    "images": "images",
    "load": "images",
    "rmi": "images",
    "tag": "images",
    "save": "images",
    "import": "images",
    "history": "images",
    "pull": "registry",
    "push": "registry",
    "login": "registry",
    "logout": "registry",
    "create": "run",
    "run": "run",
    "start": "containers",
    "stop": "containers",
    "kill": "containers",
    "restart": "containers",
    "rm": "containers",
    "wait": "containers",
    "ps": "containers",
    "logs": "containers",
    "inspect": "inspect",
    "network": "network",
    "volume": "volume",
    "exec": "manage",
    "pause": "manage",
    "unpause": "manage",
    "rename": "manage",
    "top": "manage",
    "stats": "manage",
    "events": "manage",
    "export": "manage",
    "container": "manage",
    "system": "manage",
    "cp": "manage",
    "attach": "interactive",
    "update": "manage",
    "plugin": "plugin",
}


class PouchGroup(click.Group):
    """Loads commands on demand, and turns failures into docker's one-line
    messages and exit codes, in one place."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(import_module(f".{module}", __package__), cmd_name)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from pouch.client.errors import ClientError

        try:
            return super().invoke(ctx)
        except ClientError as exc:
            _fail(error_line(exc), 1)
        except Failure as exc:
            _fail(exc.message, exc.exit_code)


def _fail(message: str, exit_code: int) -> NoReturn:
    click.echo(message, err=True)
    raise click.exceptions.Exit(exit_code)


@click.group(cls=PouchGroup)
@click.option(
    "-H",
    "--host",
    envvar="POUCH_HOST",
    metavar="URL",
    help="Daemon socket to connect to (unix:///path, tcp://host:port).",
)
@click.option("--debug", is_flag=True, help="Print each request on stderr.")
@click.version_option(__version__, prog_name="pouch", message="%(version)s")
@click.pass_context
def cli(ctx: click.Context, host: str | None, debug: bool) -> None:
    """A container engine with a plugin framework, speaking docker's API."""
    ctx.obj = Settings(host=host, debug=debug)


def main() -> None:
    cli(prog_name="pouch")
