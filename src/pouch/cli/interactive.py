"""The client side of an upgraded attach or exec stream: ``attach`` and ``exec -it``.

The request asks for ``Upgrade: tcp``; after the 101 the socket carries the raw
stream both ways. Local stdin is copied in (the terminal in raw mode when it is one)
and the write side is shut when it ends, as docker does; output is copied out,
demultiplexed when the container has no terminal, until the daemon closes.
"""

import contextlib
import json
import os
import select
import socket
import sys
from collections.abc import Iterator
from typing import Any

import click

from ._shared import Failure, exit_with, make_client


def run_stream(
    ctx: click.Context,
    path: str,
    query: dict[str, Any] | None,
    body: dict[str, Any] | None,
    tty: bool,
    stdin: bool,
) -> None:
    """Opens the upgraded stream and copies both ways until the daemon closes."""
    from pouch.client._transport import open_connection
    from pouch.client.api import _url
    from pouch.client.streams import FrameDemuxer

    client = make_client(ctx)
    conn = open_connection(client.host)
    conn.connect()
    sock = conn.sock
    assert sock is not None
    payload = json.dumps(body).encode() if body is not None else b""
    request = (
        f"POST {_url(path, query)} HTTP/1.1\r\nHost: localhost\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(request.encode() + payload)
    status, rest = _read_head(sock)
    if status != 101:
        raise Failure(f"Error response from daemon: {_error_message(rest)}")
    demuxer = None if tty else FrameDemuxer()
    with _raw_terminal(tty and stdin and sys.stdin.isatty()):
        for number, data in _pump(sock, stdin, demuxer, rest):
            out = sys.stderr if number == 2 else sys.stdout
            out.buffer.write(data)
            out.flush()
    sock.close()


def _read_head(sock: socket.socket) -> tuple[int, bytes]:
    """The status of the answer, and what came after its headers.

    Read here rather than by http.client, whose buffered reader could keep the
    first bytes of the stream to itself.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if status != 101:
        while chunk := sock.recv(4096):
            rest += chunk
    return status, rest


def _error_message(body: bytes) -> str:
    """The message of an error body, which may come chunked."""
    start, end = body.find(b"{"), body.rfind(b"}")
    try:
        return str(json.loads(body[start : end + 1])["message"])
    except (ValueError, KeyError):
        return body.decode(errors="replace").strip() or "unexpected answer"


def _pump(
    sock: socket.socket, stdin: bool, demuxer: Any, first: bytes
) -> Iterator[tuple[int, bytes]]:
    if first:
        yield from (demuxer.feed(first) if demuxer else [(1, first)])
    sources: list[Any] = [sock]
    if stdin:
        sources.append(sys.stdin.fileno())
    while True:
        ready, _, _ = select.select(sources, [], [])
        if sock in ready:
            data = sock.recv(32 * 1024)
            if not data:
                return
            yield from (demuxer.feed(data) if demuxer else [(1, data)])
        if stdin and sys.stdin.fileno() in ready:
            data = os.read(sys.stdin.fileno(), 32 * 1024)
            if data:
                sock.sendall(data)
            else:
                sources.remove(sys.stdin.fileno())
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
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
    run_stream(ctx, f"/containers/{container}/attach", query, None, tty, stdin)
    info = client.call("GET", f"/containers/{container}/json")
    if not info["State"]["Running"] and info["State"]["ExitCode"]:
        exit_with(int(info["State"]["ExitCode"]))
