"""``inspect``: containers first, then images, as docker resolves a bare name."""

import json
from typing import TYPE_CHECKING, Any

import click

from ._shared import Failure, exit_with, make_client

if TYPE_CHECKING:
    from pouch.client import Client

_KINDS = ("container", "image")


@click.command()
@click.option("-f", "--format", "template", help="Format with a Go template.")
@click.option("--type", "kind", type=click.Choice(_KINDS), help="Only this kind.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(
    ctx: click.Context, template: str | None, kind: str | None, names: tuple[str, ...]
) -> None:
    """Return low-level information on containers or images."""
    client = make_client(ctx)
    found, missing = [], []
    for name in names:
        document = _find(client, name, kind)
        if document is None:
            missing.append(name)
        else:
            found.append(document)
    _print(found, template)
    for name in missing:
        click.echo(f"Error: No such object: {name}", err=True)
    if missing:
        exit_with(1)


def _find(client: "Client", name: str, kind: str | None) -> Any:
    """The first kind that knows ``name``; ``None`` if none does."""
    from pouch.client import APIError

    lookups = {"container": client.inspect_container, "image": client.inspect_image}
    for candidate in (kind,) if kind else _KINDS:
        try:
            return lookups[candidate](name)
        except APIError as exc:
            if not exc.is_not_found:
                raise
    return None


def _print(documents: list[Any], template: str | None) -> None:
    if template is None:
        click.echo(json.dumps(documents, indent=4, ensure_ascii=False))
        return
    from .gotemplate import TemplateError, render

    for document in documents:
        try:
            click.echo(render(template, document))
        except TemplateError as exc:
            raise Failure(f"Template parsing error: {exc}") from exc
