"""/containers/{id}/exec and /exec/{id}/...: processes added to running containers."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.hijack import Hijacked, hijack, wants_upgrade
from pouch.apis.wire import json_object, json_response, query_int
from pouch.ctrd import jsonlog
from pouch.errors import PouchError
from pouch.mgr.container import ContainerManager
from pouch.mgr.exec import ExecIO, ExecManager, ExecRecord

_managers: weakref.WeakKeyDictionary[ContainerManager, ExecManager] = (
    weakref.WeakKeyDictionary()
)


def execs(request: web.Request) -> ExecManager:
    """The daemon's one exec manager, made on first use beside its containers."""
    ctx: ApiContext = request.app["ctx"]
    manager = _managers.get(ctx.containers)
    if manager is None:
        manager = _managers[ctx.containers] = ExecManager(ctx.containers)
    return manager


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    record = execs(request).create(request.match_info["id"], body)
    return json_response({"Id": record.id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(execs(request).get(request.match_info["id"]).to_api())


async def resize(request: web.Request) -> web.Response:
    width = query_int(request, "w") or 0
    height = query_int(request, "h") or 0
    await execs(request).resize(request.match_info["id"], width, height)
    return web.Response(status=201)


async def start(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    manager = execs(request)
    exec_id = request.match_info["id"]
    tty = bool(body["Tty"]) if body.get("Tty") is not None else None
    manager.check_startable(exec_id)
    if body.get("Detach"):
        record, io = await manager.start(exec_id, tty)
        _background(_discard(manager, record, io))
        return web.Response(status=200)
    if not wants_upgrade(request):
        record, io = await manager.start(exec_id, tty)
        return await _plain(request, manager, record, io)
    # As dockerd does, the stream opens first and a failed start is told in it;
    # the client then reads the exit code (126) from the exec's inspect.
    response, conn = await hijack(request)
    try:
        record, io = await manager.start(exec_id, tty)
    except PouchError as exc:
        message = str(exc).encode() + b"\r\n"
        conn.write(message if tty else jsonlog.frame("stdout", message))
        conn.close()
        return response
    try:
        await _run(manager, record, io, conn)
    finally:
        io.close()
        conn.close()
    return response


_pending: set[asyncio.Task[None]] = set()


def _background(coro: Any) -> None:
    task = asyncio.create_task(coro)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _run(
    manager: ExecManager, record: ExecRecord, io: ExecIO, conn: Hijacked
) -> None:
    feeding = asyncio.create_task(manager.feed_stdin(record, io, conn.chunks()))
    copying = asyncio.create_task(_copy(manager, record, io, conn))
    closed = asyncio.create_task(conn.closed.wait())
    await asyncio.wait([copying, closed], return_when=asyncio.FIRST_COMPLETED)
    for task in (feeding, copying, closed):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _copy(
    manager: ExecManager, record: ExecRecord, io: ExecIO, conn: Hijacked
) -> None:
    async for stream, data in manager.output(record, io):
        conn.write(data if record.config.Tty else jsonlog.frame(stream, data))


async def _discard(manager: ExecManager, record: ExecRecord, io: ExecIO) -> None:
    """A detached exec's output is drained so that the process never blocks on it."""
    io.close_stdin()
    try:
        async for _ in manager.output(record, io):
            pass
    finally:
        io.close()


async def _plain(
    request: web.Request, manager: ExecManager, record: ExecRecord, io: ExecIO
) -> web.StreamResponse:
    content_type = (
        "application/vnd.docker.raw-stream"
        if record.config.Tty
        else "application/vnd.docker.multiplexed-stream"
    )
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    io.close_stdin()
    try:
        async for stream, data in manager.output(record, io):
            await response.write(
                data if record.config.Tty else jsonlog.frame(stream, data)
            )
        await response.write_eof()
    finally:
        io.close()
    return response


def routes() -> list[tuple[str, str, object]]:
    return [
        ("POST", "/containers/{id}/exec", create),
        ("POST", "/exec/{id}/start", start),
        ("POST", "/exec/{id}/resize", resize),
        ("GET", "/exec/{id}/json", inspect),
    ]
