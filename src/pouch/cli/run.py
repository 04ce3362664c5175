"""``create`` and ``run``.

``run`` without ``-d`` must not miss a container that exits at once, nor lose its
exit status to ``--rm``: like docker, it registers ``wait`` (``next-exit``, or
``removed`` with ``--rm``) before ``start``, then follows the logs, then reads the
wait's answer. ``run -i`` attaches (an upgraded stream that carries stdin too)
instead of following the logs, before the wait and the start, as docker does.
Errors before the container starts exit 125, as docker's do, so a script can tell
them from the container's own status; a command that is missing exits 127, and one
that cannot be run 126, as a shell's would.
"""

from typing import TYPE_CHECKING, Any

import click

from ._shared import Failure, error_line, exit_with, make_client
from .createopts import CreateOptions, FlagError, build_create_body, create_options

if TYPE_CHECKING:
    from pouch.client import Client
    from pouch.client.api import PendingResponse, Stream

RUN_FAILED = 125
# What a start error says of the command, and docker's exit status for it.
_NOT_FOUND = ("executable file not found", "no such file or directory")
_CANNOT_RUN = ("permission denied", "is a directory")
_NO_INTERSPERSED = {"allow_interspersed_args": False}


@click.command(context_settings=_NO_INTERSPERSED)
@create_options
@click.pass_context
def create(ctx: click.Context, /, **flags: Any) -> None:
    """Create a new container and print its id."""
    client = make_client(ctx)
    container_id = _create(client, CreateOptions(**flags), exit_code=1)
    click.echo(container_id)


@click.command(context_settings=_NO_INTERSPERSED)
@click.option("-d", "--detach", is_flag=True, help="Run in the background.")
@create_options
@click.pass_context
def run(ctx: click.Context, /, **flags: Any) -> None:
    """Create and start a container; follow its output unless detached."""
    options = CreateOptions(**flags)
    client = make_client(ctx)
    container_id = _create(client, options, exit_code=RUN_FAILED)
    if options.detach:
        _start(client, container_id)
        click.echo(container_id)
        return
    if options.interactive:
        exit_with(_run_interactive(client, container_id, options))
    exit_with(_run_attached(client, container_id, options))


def _create(client: "Client", options: CreateOptions, exit_code: int) -> str:
    """Create the container; print the daemon's warnings; return the full id."""
    from pouch.client import APIError, ClientError

    try:
        body = build_create_body(options)
        try:
            created = client.create_container(body, options.name)
        except APIError as exc:
            if not (exc.is_not_found and "image" in exc.message.lower()):
                raise
            # As docker does: say so, pull it, and create again.
            image = _with_tag(options.image)
            click.echo(f"Unable to find image '{image}' locally", err=True)
            _pull(client, image, exit_code)
            created = client.create_container(body, options.name)
    except FlagError as exc:
        raise Failure(str(exc), exit_code) from exc
    except ClientError as exc:
        raise Failure(error_line(exc), exit_code) from exc
    for warning in created.get("Warnings") or ():
        click.echo(f"WARNING: {warning}", err=True)
    return str(created["Id"])


def _pull(client: "Client", image: str, exit_code: int) -> None:
    from .registry import pull_for_run

    try:
        pull_for_run(client, image)
    except Failure as exc:
        raise Failure(exc.message, exit_code) from exc


def _with_tag(image: str) -> str:
    """``busybox`` -> ``busybox:latest``, as docker names a missing image."""
    last = image.rpartition("/")[2]
    if "@" in last or ":" in last:
        return image
    return f"{image}:latest"


def _start(client: "Client", container_id: str) -> None:
    from pouch.client import ClientError

    try:
        client.start(container_id)
    except ClientError as exc:
        raise Failure(error_line(exc), start_failure_status(str(exc))) from exc


def start_failure_status(message: str) -> int:
    """127 when the command was not found, 126 when it could not be run, else 125."""
    lowered = message.lower()
    if any(words in lowered for words in _NOT_FOUND):
        return 127
    if any(words in lowered for words in _CANNOT_RUN):
        return 126
    return RUN_FAILED


def _run_attached(client: "Client", container_id: str, options: CreateOptions) -> int:
    """Start, copy the output until the container ends, return its exit status."""
    pending = client.wait_later(container_id, _wait_condition(options))
    try:
        # The log stream opens before the start: a followed, never-started container
        # streams until its first exit, so even a fast --rm container loses nothing.
        stream = _follow_logs(client, container_id)
        _start(client, container_id)
        if stream is not None:
            from .output import copy_output

            copy_output(stream.chunks(), options.tty)
        return _exit_status(client, container_id, _wait_result(client, pending))
    except KeyboardInterrupt:
        return 130
    finally:
        pending.close()


def _run_interactive(
    client: "Client", container_id: str, options: CreateOptions
) -> int:
    """``run -i``: attach, register the wait, start, then copy both ways.

    The attach comes first so that no output and no input is lost, whatever the
    container does as it starts; a detach leaves the container running and the
    exit status unknown, so it exits 0 without reading the wait.
    """
    from pouch.client import ClientError

    from .interactive import copy_stream, detach_sequence, open_stream

    keys = detach_sequence(None)
    query = {"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1}
    path = f"/containers/{container_id}/attach"
    try:
        upgraded = open_stream(client, path, query, None)
    except ClientError as exc:
        raise Failure(error_line(exc), RUN_FAILED) from exc
    except Failure as exc:
        raise Failure(exc.message, RUN_FAILED) from exc
    with upgraded:
        pending = client.wait_later(container_id, _wait_condition(options))
        try:
            _start(client, container_id)
            if options.tty:
                _resize(client, container_id)
            if copy_stream(upgraded, options.tty, True, keys):
                return 0
            return _exit_status(client, container_id, _wait_result(client, pending))
        except KeyboardInterrupt:
            return 130
        finally:
            pending.close()


def _wait_condition(options: CreateOptions) -> str:
    return "removed" if options.rm else "next-exit"


def _resize(client: "Client", container_id: str) -> None:
    from .interactive import resize_to_terminal

    resize_to_terminal(client, f"/containers/{container_id}/resize")


def _follow_logs(client: "Client", container_id: str) -> "Stream | None":
    from pouch.client import APIError

    try:
        return client.logs(container_id, follow=True)
    except APIError as exc:
        if exc.is_not_found:
            return None
        raise


def _wait_result(client: "Client", pending: "PendingResponse") -> Any:
    """The pending wait's answer; a daemon without ``condition`` gets a plain wait."""
    from pouch.client import APIError

    try:
        return pending.result()
    except APIError as exc:
        if exc.status != 400:
            raise
        return None


def _exit_status(client: "Client", container_id: str, result: Any) -> int:
    """The wait answer's status; print the daemon's error about the exit, if any."""
    error = (result or {}).get("Error") or {}
    if error.get("Message"):
        click.echo(f"Error: {error['Message']}", err=True)
    status = (result or {}).get("StatusCode")
    if status is None:
        status = client.wait(container_id).get("StatusCode", 0)
    return int(status)
