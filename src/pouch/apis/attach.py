"""Attach routes: a container's stdio over the upgraded connection
(``POST /containers/{id}/attach``) or over a websocket (``GET .../attach/ws``).

Both run the same session (``_run``); they differ in how the client's end is reached
and in the output's shape: the upgraded stream multiplexes stdout and stderr in 8-byte
frames unless the container has a terminal, the websocket never does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from pouch import API_VERSION
from pouch.apis.context import ApiContext
from pouch.apis.hijack import hijack, wants_upgrade
from pouch.apis.websocket import WebSocketPeer
from pouch.apis.wire import query_bool
from pouch.ctrd import jsonlog
from pouch.errors import InvalidParameter
from pouch.mgr import attach as attaching


class Peer(Protocol):
    """The client's end of a session: ``Hijacked`` or ``WebSocketPeer``."""

    closed: asyncio.Event

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def send(self, data: bytes) -> None: ...


async def attach(request: web.Request) -> web.StreamResponse:
    ctx: ApiContext = request.app["ctx"]
    opts = _options(request, every_stream=False)
    session = attaching.open_session(ctx.containers, request.match_info["id"], opts)
    if not wants_upgrade(request):
        return await _plain(request, session)
    response, conn = await hijack(request)
    try:
        await _serve(ctx, session, conn, opts.detach_keys, multiplexed=not session.tty)
    finally:
        conn.close()
    return response


async def attach_ws(request: web.Request) -> web.StreamResponse:
    """The session over a websocket, raw in both directions.

    As dockerd does, output goes in binary frames from API 1.28 on and in text
    frames before it, and clients before 1.42 get every stream whatever they ask.
    """
    ctx: ApiContext = request.app["ctx"]
    version = _api_version(request)
    opts = _options(request, every_stream=version < (1, 42))
    session = attaching.open_session(ctx.containers, request.match_info["id"], opts)
    ws = web.WebSocketResponse(compress=False)
    if not ws.can_prepare(request).ok:
        session.close_stdin()
        raise InvalidParameter(
            f"attach/ws to container {session.container.id}: expected a websocket "
            "upgrade (Connection: Upgrade, Upgrade: websocket)"
        )
    await ws.prepare(request)
    opcode = WSMsgType.BINARY if version >= (1, 28) else WSMsgType.TEXT
    peer = WebSocketPeer(ws, opcode)
    try:
        await _serve(ctx, session, peer, opts.detach_keys, multiplexed=False)
    finally:
        await peer.close()
    return ws


def _options(request: web.Request, every_stream: bool) -> attaching.AttachOptions:
    def stream(name: str) -> bool:
        return every_stream or query_bool(request, name)

    return attaching.AttachOptions(
        stdin=stream("stdin"),
        stdout=stream("stdout"),
        stderr=stream("stderr"),
        logs=query_bool(request, "logs"),
        stream=query_bool(request, "stream"),
        detach_keys=attaching.parse_detach_keys(request.query.get("detachKeys")),
    )


def _api_version(request: web.Request) -> tuple[int, int]:
    """The version in the path's ``/vX.Y`` prefix, or the newest without one."""
    major, _, minor = request.match_info.get("version", API_VERSION).partition(".")
    return int(major), int(minor)


async def _serve(
    ctx: ApiContext,
    session: attaching.AttachSession,
    peer: Peer,
    detach_keys: bytes,
    multiplexed: bool,
) -> None:
    """Runs the session, then lets go of the container's stdin."""
    detached = False
    try:
        detached = await _run(ctx, session, peer, detach_keys, multiplexed)
    finally:
        if detached:
            # A detach leaves the container as it is: its stdin stays open for
            # the next attach, even with StdinOnce.
            session.close_stdin()
        else:
            _background(attaching.finish_stdin(ctx.containers, session))


_pending: set[asyncio.Task[None]] = set()


def _background(coro: Any) -> None:
    """Runs ``coro`` past the end of the request, keeping a reference to it."""
    task = asyncio.create_task(coro)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _run(
    ctx: ApiContext,
    session: attaching.AttachSession,
    peer: Peer,
    detach_keys: bytes,
    multiplexed: bool,
) -> bool:
    """Output until the container exits, the client detaches or goes away; True if
    the client detached."""
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(peer.closed.wait())]
    output = asyncio.create_task(_copy_output(session, peer, multiplexed))
    tasks.append(output)
    feeding = asyncio.create_task(
        attaching.feed_stdin(ctx.containers, session, peer.chunks(), detach_keys)
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


async def _copy_output(
    session: attaching.AttachSession, peer: Peer, multiplexed: bool
) -> None:
    if session.output is None:
        await peer.closed.wait()  # nothing to show: the client decides when to end
        return
    async for entry in session.output:
        await peer.send(_encode(entry, multiplexed))


def _encode(entry: Any, multiplexed: bool) -> bytes:
    data: bytes = entry.data
    return jsonlog.frame(entry.stream, data) if multiplexed else data


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
                await response.write(_encode(entry, multiplexed=not session.tty))
        await response.write_eof()
    session.close_stdin()
    return response
