"""Image commands: ``images``, ``load``, ``rmi``."""

import sys
from typing import IO, Any

import click

from ._shared import Failure, for_each, make_client


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all images.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image ids.")
@click.pass_context
def images(ctx: click.Context, show_all: bool, quiet: bool) -> None:
    """List images."""
    from .listing import format_images

    found = make_client(ctx).images(all=show_all)
    output = format_images(found, quiet=quiet)
    if output:
        click.echo(output)


@click.command()
@click.option(
    "-i", "--input", "path", type=click.Path(dir_okay=False), help="Tar archive."
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output.")
@click.pass_context
def load(ctx: click.Context, path: str | None, quiet: bool) -> None:
    """Load an image from a tar archive (from STDIN without -i)."""
    client = make_client(ctx)
    with _open_archive(path) as tarball:
        for message in client.load_image(tarball, quiet=quiet):
            _show_message(message)


def _open_archive(path: str | None) -> IO[bytes]:
    if path is None:
        if sys.stdin.isatty():
            raise Failure("requested load from stdin, but stdin is empty")
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise Failure(f"open {path}: {exc.strerror}") from exc


def _show_message(message: Any) -> None:
    """Print a streamed message's text; a message carrying an error ends the load."""
    if not isinstance(message, dict):
        return
    if message.get("error"):
        raise Failure(str(message["error"]))
    text = message.get("stream")
    if text:
        click.echo(text, nl=False)
        sys.stdout.flush()


@click.command()
@click.option("-f", "--force", is_flag=True, help="Force removal of the image.")
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def rmi(ctx: click.Context, force: bool, images: tuple[str, ...]) -> None:
    """Remove one or more images."""
    client = make_client(ctx)
    for_each(images, lambda name: _removal_lines(client.remove_image(name, force)))


def _removal_lines(items: Any) -> str | None:
    """``Untagged: ...`` and ``Deleted: ...`` lines, in the daemon's order."""
    lines = []
    for item in items or ():
        for key in ("Untagged", "Deleted"):
            if item.get(key):
                lines.append(f"{key}: {item[key]}")
    return "\n".join(lines) or None
