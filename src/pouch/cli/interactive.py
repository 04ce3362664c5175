"""The client side of an upgraded attach or exec stream: ``run -i``, ``attach``,
``exec -i``.

The request asks for ``Upgrade: tcp``; after the 101 the socket carries the raw
stream both ways. Local stdin is copied in (the terminal in raw mode when it is one)
and the write side is shut when it ends, as docker does: end of input is not the
end of the session, so output is copied out, demultiplexed when the container has
no terminal, until the daemon closes.

The daemon acts on the detach keys; the client watches for them too, because after
a detach the container goes on running and waiting for its exit would hang.
"""

import contextlib
import os
import select
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from ._shared import Failure, exit_with, make_client

if TYPE_CHECKING:
    from pouch.client import Client
    from pouch.client.upgrade import Upgraded

_READ = 32 * 1024


def detach_sequence(spec: str | None) -> bytes:
    """``ctrl-p,ctrl-q`` or ``a,ctrl-@`` as the bytes a terminal sends."""
    from pouch.detachkeys import DetachKeysError, parse_detach_keys

    try:
        return parse_detach_keys(spec)
    except DetachKeysError as exc:
        raise Failure(str(exc)) from exc


class DetachWatch:
    """Follows the input for the detach sequence, across reads."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.matched = 0
        self.seen = False

    def feed(self, data: bytes) -> None:
        for byte in data:
            if not self.keys:
                return
            if byte == self.keys[self.matched]:
                self.matched += 1
            else:
                self.matched = 1 if byte == self.keys[0] else 0
            if self.matched == len(self.keys):
                self.seen = True
                return


def open_stream(
    client: "Client", path: str, query: dict[str, Any] | None, body: Any
) -> "Upgraded":
    """The upgraded connection; a refusal fails the command with docker's line."""
    from pouch.client import APIError

    try:
        return client.upgrade(path, query, body)
    except APIError as exc:
        raise Failure(f"Error response from daemon: {exc.message}") from exc


def copy_stream(
    upgraded: "Upgraded", tty: bool, stdin: bool, detach_keys: bytes
) -> bool:
    """Copies both ways until the daemon closes; True if the user detached."""
    from pouch.client.streams import FrameDemuxer

    demuxer = None if tty else FrameDemuxer()
    watch = DetachWatch(detach_keys if stdin else b"")
    with _raw_terminal(tty and stdin and _is_tty(sys.stdin)):
        for number, data in _pump(upgraded, stdin, demuxer, watch):
            _write(sys.stderr if number == 2 else sys.stdout, data)
    return watch.seen


def run_stream(
    ctx: click.Context,
    path: str,
    query: dict[str, Any] | None,
    body: dict[str, Any] | None,
    tty: bool,
    stdin: bool,
    detach_keys: str | None = None,
) -> bool:
    """Opens the upgraded stream and copies both ways; True if the user detached."""
    keys = detach_sequence(detach_keys)
    with open_stream(make_client(ctx), path, query, body) as upgraded:
        return copy_stream(upgraded, tty, stdin, keys)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _write(out: Any, data: bytes) -> None:
    """Writes at once; a reader that went away (``| head``) is not an error."""
    with contextlib.suppress(BrokenPipeError):
        out.buffer.write(data)
        out.flush()


def _pump(
    upgraded: "Upgraded", stdin: bool, demuxer: Any, watch: DetachWatch
) -> Iterator[tuple[int, bytes]]:
    """Yields the output as ``(stream, bytes)`` while feeding the input in."""

    def split(data: bytes) -> list[tuple[int, bytes]]:
        return demuxer.feed(data) if demuxer else [(1, data)]

    if upgraded.early:
        yield from split(upgraded.early)
    sock = upgraded.sock
    in_fd = _stdin_fd() if stdin else -1
    if stdin and in_fd < 0:
        upgraded.close_write()  # stdin was closed (``<&-``): it has already ended
    sources: list[Any] = [sock] + ([in_fd] if in_fd >= 0 else [])
    while True:
        ready, _, _ = select.select(sources, [], [])
        if sock in ready:
            data = sock.recv(_READ)
            if not data:
                return
            yield from split(data)
        if in_fd in ready and not _send_input(upgraded, in_fd, watch):
            sources.remove(in_fd)


def _stdin_fd() -> int:
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return -1


def _send_input(upgraded: "Upgraded", fd: int, watch: DetachWatch) -> bool:
    """Sends what stdin has; False once it has ended (the write side is then shut)."""
    try:
        data = os.read(fd, _READ)
    except OSError:
        data = b""
    if not data:
        upgraded.close_write()
        return False
    watch.feed(data)
    try:
        upgraded.sock.sendall(data)
    except OSError:
        return False  # the daemon closed: its output ends the loop
    return True


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    """The local terminal in raw mode, so keys reach the container's own terminal
    as typed; restored however the session ends."""
    if not enabled:
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def resize_to_terminal(client: "Client", path: str) -> None:
    """Gives the container's terminal the local one's size, as docker does at
    start; a size the daemon refuses is not worth failing over."""
    from pouch.client import ClientError

    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except (OSError, ValueError):
        return
    if size.lines and size.columns:
        with contextlib.suppress(ClientError):
            client.call("POST", path, {"h": size.lines, "w": size.columns})


@click.command()
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN.")
@click.option("--detach-keys", help="Key sequence for detaching a container.")
@click.argument("container")
@click.pass_context
def attach(
    ctx: click.Context, no_stdin: bool, detach_keys: str | None, container: str
) -> None:
    """Attach local standard input, output, and error streams to a running
    container."""
    client = make_client(ctx)
    info = client.call("GET", f"/containers/{container}/json")
    if not info["State"]["Running"]:
        raise Failure("You cannot attach to a stopped container, start it first")
    tty = bool(info["Config"].get("Tty"))
    stdin = not no_stdin and bool(info["Config"].get("OpenStdin"))
    query: dict[str, Any] = {"stream": 1, "stdout": 1, "stderr": 1, "stdin": int(stdin)}
    if detach_keys:
        query["detachKeys"] = detach_keys
    path = f"/containers/{container}/attach"
    if run_stream(ctx, path, query, None, tty, stdin, detach_keys):
        return
    info = client.call("GET", f"/containers/{container}/json")
    if not info["State"]["Running"] and info["State"]["ExitCode"]:
        exit_with(int(info["State"]["ExitCode"]))
