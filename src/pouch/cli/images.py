"""Image commands: ``images``, ``load``, ``rmi``, ``tag``, ``save``, ``import``,
``history``."""

import sys
from typing import IO, Any

import click

from ._shared import Failure, for_each, make_client


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all images.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image ids.")
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    help="Filter (dangling, reference, label).",
)
@click.argument("repository", required=False)
@click.pass_context
def images(
    ctx: click.Context,
    show_all: bool,
    quiet: bool,
    filters: tuple[str, ...],
    repository: str | None,
) -> None:
    """List images."""
    import json

    from .listing import format_images, parse_filters

    try:
        wanted = parse_filters(filters)
    except ValueError as exc:
        raise Failure(str(exc)) from exc
    if repository:
        wanted.setdefault("reference", []).append(repository)
    query: dict[str, Any] = {"all": show_all}
    if wanted:
        query["filters"] = json.dumps(wanted)
    found = make_client(ctx).call("GET", "/images/json", query)
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


@click.command()
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET that refers to the image SOURCE."""
    from pouch.client.api import _seg

    repo, tag_ = _split_tag(target)
    make_client(ctx).call(
        "POST", f"/images/{_seg(source)}/tag", {"repo": repo, "tag": tag_}
    )


def _split_tag(name: str) -> tuple[str, str]:
    last = name.rsplit("/", 1)[-1]
    if ":" in last and "@" not in name:
        repo, _, tag_ = name.rpartition(":")
        return repo, tag_
    return name, ""


@click.command()
@click.option("-o", "--output", "path", help="Write to a file instead of STDOUT.")
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def save(ctx: click.Context, path: str | None, images: tuple[str, ...]) -> None:
    """Save one or more images to a tar archive (STDOUT without -o)."""
    if path is None and sys.stdout.isatty():
        raise Failure(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )
    query = "&".join(f"names={_quote(name)}" for name in images)
    response = make_client(ctx).request("GET", f"/images/get?{query}")
    out = open(path, "wb") if path else sys.stdout.buffer
    try:
        for chunk in response.chunks():
            out.write(chunk)
    finally:
        if path:
            out.close()
        else:
            out.flush()


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@click.command("import")
@click.option("-c", "--change", "changes", multiple=True, help="Dockerfile change.")
@click.option("-m", "--message", default="", help="Commit message.")
@click.argument("file")
@click.argument("reference", required=False, default="")
@click.pass_context
def import_(
    ctx: click.Context,
    changes: tuple[str, ...],
    message: str,
    file: str,
    reference: str,
) -> None:
    """Import a rootfs tarball (- for STDIN) as a one-layer image."""
    repo, tag_ = _split_tag(reference) if reference else ("", "")
    query: dict[str, Any] = {"fromSrc": "-", "repo": repo, "tag": tag_}
    query["message"] = message
    path = "/images/create?" + "&".join(
        f"{k}={_quote(str(v))}" for k, v in query.items() if v
    )
    path += "".join(f"&changes={_quote(c)}" for c in changes)
    with _open_archive(None if file == "-" else file) as tarball:
        result = (
            make_client(ctx)
            .request("POST", path, None, tarball, {"Content-Type": "application/x-tar"})
            .json()
        )
    click.echo(result.get("status", "") if isinstance(result, dict) else "")


# ``import`` is a keyword: the command registry looks the command up by name.
setattr(sys.modules[__name__], "import", import_)


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Only show image ids.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.argument("image")
@click.pass_context
def history(ctx: click.Context, quiet: bool, no_trunc: bool, image: str) -> None:
    """Show the history of an image."""
    import time

    from pouch.client.api import _seg

    from .listing import ago
    from .table import format_table
    from .units import human_size

    rows = make_client(ctx).call("GET", f"/images/{_seg(image)}/history")
    if quiet:
        click.echo("\n".join(_short(r["Id"], no_trunc) for r in rows))
        return
    now = time.time()
    table = [
        [
            _short(r["Id"], no_trunc),
            ago(r["Created"], now),
            r["CreatedBy"] if no_trunc else r["CreatedBy"][:45],
            human_size(r["Size"]),
            r.get("Comment", ""),
        ]
        for r in rows
    ]
    headers = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    click.echo(format_table(headers, table))


def _short(image_id: str, no_trunc: bool) -> str:
    if image_id == "<missing>" or no_trunc:
        return image_id
    return image_id.removeprefix("sha256:")[:12]
