"""The ``libnetwork-setkey`` prestart hook and the daemon's end of it.

runc runs the hook after it has made the container's namespaces and before the
container's process runs, with an empty environment and the OCI state (which holds
the container's ``pid``) on stdin. The hook passes the pid to the daemon over a unix
socket and waits while the daemon wires the namespace; a non-zero exit fails the
start, so the container never runs without its network.

The hook side runs on every container start, so this module imports only the
standard library's light modules at the top; the daemon side imports asyncio late.

Wire format: one JSON line each way. Request ``{"container_id": ..., "pid": ...}``,
answer ``{"ok": true}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable
    from pathlib import Path

SOCKET_DIR = "/run/pouch/libnetwork"
HOOK_TIMEOUT = 60.0
_MAX_LINE = 64 * 1024
# sun_path holds 108 bytes including the terminating NUL.
_SUN_PATH_MAX = 107


def socket_path(controller_id: str) -> Path:
    from pathlib import Path

    return Path(_socket_file(controller_id))


def _socket_file(controller_id: str) -> str:
    if not controller_id or "/" in controller_id or controller_id.startswith("."):
        raise ValueError(f"invalid controller id {controller_id!r}")
    path = f"{SOCKET_DIR}/{controller_id}.sock"
    if len(path.encode()) > _SUN_PATH_MAX:
        raise ValueError(
            f"controller id {controller_id!r} makes socket path {path} longer than "
            f"{_SUN_PATH_MAX} bytes"
        )
    return path


# The daemon's side.


async def serve(
    controller_id: str, handler: Callable[[str, int], Awaitable[None]]
) -> asyncio.AbstractServer:
    """Serve hook connections on the controller's socket in the running loop.

    Close the server with ``close_server``, which also removes the socket file.
    """
    import asyncio

    path = socket_path(controller_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A previous daemon that died leaves its socket file; binding needs it gone.
    path.unlink(missing_ok=True)

    async def on_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            answer = await _answer(reader, handler)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_unix_server(
        on_connection, path=str(path), limit=_MAX_LINE
    )
    os.chmod(path, 0o600)
    return server


async def close_server(server: asyncio.AbstractServer, controller_id: str) -> None:
    server.close()
    await server.wait_closed()
    socket_path(controller_id).unlink(missing_ok=True)


async def _answer(
    reader: asyncio.StreamReader, handler: Callable[[str, int], Awaitable[None]]
) -> dict[str, object]:
    import asyncio
    import logging

    log = logging.getLogger("pouch.network")
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=10.0)
        request = json.loads(line)
        container_id, pid = str(request["container_id"]), int(request["pid"])
    except (TimeoutError, ValueError, KeyError, TypeError) as e:
        log.warning("bad setkey request: %r", e)
        return {"error": f"bad setkey request: {e!r}"}

    try:
        await handler(container_id, pid)
    except Exception as e:
        log.warning("setkey for container %s (pid %d) failed: %s", container_id, pid, e)
        return {"error": f"{type(e).__name__}: {e}"}
    return {"ok": True}


# The hook's side.


def run_hook(argv: list[str]) -> int:
    """``pouchd libnetwork-setkey <container id> <controller id>``, state on stdin."""
    if len(argv) != 2:
        return _fail("usage: pouchd libnetwork-setkey <container id> <controller id>")
    container_id, controller_id = argv
    try:
        state = json.load(sys.stdin)
        pid = int(state["pid"])
        path = _socket_file(controller_id)
    except (ValueError, KeyError, TypeError) as e:
        return _fail(f"container {container_id}: bad hook input: {e!r}")

    request = json.dumps({"container_id": container_id, "pid": pid}).encode()
    try:
        reply = _exchange(path, request + b"\n")
        answer = json.loads(reply)
    except (OSError, ValueError) as e:
        return _fail(f"container {container_id}: no answer from pouchd at {path}: {e}")

    if isinstance(answer, dict) and answer.get("ok") is True:
        return 0
    error = answer.get("error") if isinstance(answer, dict) else answer
    return _fail(f"container {container_id}: network setup failed: {error}")


def _exchange(path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(HOOK_TIMEOUT)
        sock.connect(path)
        sock.sendall(request)
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < _MAX_LINE:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply


def _fail(message: str) -> int:
    print(f"libnetwork-setkey: {message}", file=sys.stderr)
    return 1
