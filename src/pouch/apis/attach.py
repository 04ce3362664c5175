"""POST /containers/{id}/attach: the upgraded stream of a container's stdio."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.hijack import Hijacked, hijack, wants_upgrade
from pouch.apis.wire import query_bool
from pouch.ctrd import jsonlog
from pouch.mgr import attach as attaching


async def attach(request: web.Request) -> web.StreamResponse:
    ctx: ApiContext = request.app["ctx"]
    opts = attaching.AttachOptions(
        stdin=query_bool(request, "stdin"),
        stdout=query_bool(request, "stdout"),
        stderr=query_bool(request, "stderr"),
        logs=query_bool(request, "logs"),
        stream=query_bool(request, "stream"),
        detach_keys=attaching.parse_detach_keys(request.query.get("detachKeys")),
    )
    session = attaching.open_session(ctx.containers, request.match_info["id"], opts)
    if not wants_upgrade(request):
        return await _plain(request, session)
    response, conn = await hijack(request)
    detached = False
    try:
        detached = await _run(ctx, session, conn, opts.detach_keys)
    finally:
        conn.close()
        if detached:
            # A detach leaves the container as it is: its stdin stays open for
            # the next attach, even with StdinOnce.
            session.close_stdin()
        else:
            _background(attaching.finish_stdin(ctx.containers, session))
    return response


_pending: set[asyncio.Task[None]] = set()


def _background(coro: Any) -> None:
    """Runs ``coro`` past the end of the request, keeping a reference to it."""
    task = asyncio.create_task(coro)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _run(
    ctx: ApiContext,
    session: attaching.AttachSession,
    conn: Hijacked,
    detach_keys: bytes,
) -> bool:
    """Output until the container exits, the client detaches or goes away; True if
    the client detached."""
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(conn.closed.wait())]
    output = asyncio.create_task(_copy_output(session, conn))
    tasks.append(output)
    feeding = asyncio.create_task(
        attaching.feed_stdin(ctx.containers, session, conn.chunks(), detach_keys)
    )
    while True:
        done, _ = await asyncio.wait(
            [*tasks, feeding], return_when=asyncio.FIRST_COMPLETED
        )
        if feeding in done and not feeding.result():
            # End of input is not the end of the session: output goes on.
            _background(attaching.finish_stdin(ctx.containers, session))
            feeding = asyncio.create_task(asyncio.Event().wait())
            continue
        break
    detached = (
        feeding.done()
        and not feeding.cancelled()
        and feeding.exception() is None
        and feeding.result() is True
    )
    for task in [*tasks, feeding]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return detached


async def _copy_output(session: attaching.AttachSession, conn: Hijacked) -> None:
    if session.output is None:
        await conn.closed.wait()  # nothing to show: the client decides when to end
        return
    async for entry in session.output:
        conn.write(_encode(session, entry))


def _encode(session: attaching.AttachSession, entry: Any) -> bytes:
    data: bytes = entry.data
    return data if session.tty else jsonlog.frame(entry.stream, data)


async def _plain(
    request: web.Request, session: attaching.AttachSession
) -> web.StreamResponse:
    """A client that does not ask for the upgrade gets the output as a body."""
    content_type = (
        "application/vnd.docker.raw-stream"
        if session.tty
        else "application/vnd.docker.multiplexed-stream"
    )
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        if session.output is not None:
            async for entry in session.output:
                await response.write(_encode(session, entry))
        await response.write_eof()
    session.close_stdin()
    return response
