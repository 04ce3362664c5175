"""Container lifecycle commands: ``start stop kill restart rm wait ps logs``.

Commands that take several containers act on each in turn, print each name as the
user gave it, and report each failure on its own line, as docker does.
"""

import click

from ._shared import Failure, for_each, make_client


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def start(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    client = make_client(ctx)
    for_each(containers, client.start)


@click.command()
@click.option("-t", "--time", "timeout", type=int, help="Seconds to wait before kill.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop(ctx: click.Context, timeout: int | None, containers: tuple[str, ...]) -> None:
    """Stop one or more running containers."""
    client = make_client(ctx)
    for_each(containers, lambda name: client.stop(name, timeout))


@click.command()
@click.option("-s", "--signal", help="Signal to send (default KILL).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def kill(ctx: click.Context, signal: str | None, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    client = make_client(ctx)
    for_each(containers, lambda name: client.kill(name, signal))


@click.command()
@click.option("-t", "--time", "timeout", type=int, help="Seconds to wait before kill.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def restart(
    ctx: click.Context, timeout: int | None, containers: tuple[str, ...]
) -> None:
    """Restart one or more containers."""
    client = make_client(ctx)
    for_each(containers, lambda name: client.restart(name, timeout))


@click.command()
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm(
    ctx: click.Context, force: bool, volumes: bool, containers: tuple[str, ...]
) -> None:
    """Remove one or more containers."""
    client = make_client(ctx)
    for_each(containers, lambda name: client.remove_container(name, force, volumes))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Block until containers stop, then print their exit codes."""
    client = make_client(ctx)
    for_each(containers, lambda name: str(client.wait(name).get("StatusCode", 0)))


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container ids.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter key=value.")
@click.pass_context
def ps(
    ctx: click.Context,
    show_all: bool,
    quiet: bool,
    no_trunc: bool,
    filters: tuple[str, ...],
) -> None:
    """List containers."""
    from .listing import format_containers, parse_filters

    try:
        query = parse_filters(filters)
    except ValueError as exc:
        raise Failure(str(exc)) from exc
    found = make_client(ctx).containers(all=show_all, filters=query)
    output = format_containers(found, quiet=quiet, trunc=not no_trunc)
    if output:  # -q with nothing to list prints nothing, as docker does
        click.echo(output)


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-n", "--tail", default="all", help="Lines to show from the end.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.argument("container")
@click.pass_context
def logs(
    ctx: click.Context, follow: bool, tail: str, timestamps: bool, container: str
) -> None:
    """Fetch the logs of a container."""
    from .output import copy_output

    client = make_client(ctx)
    tty = bool(client.inspect_container(container).get("Config", {}).get("Tty"))
    stream = client.logs(container, follow=follow, tail=tail, timestamps=timestamps)
    try:
        copy_output(stream.chunks(), tty)
    except KeyboardInterrupt:
        stream.close()
