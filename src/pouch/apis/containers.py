"""/containers routes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_response, query_bool, query_filters, query_int
from pouch.ctrd import jsonlog
from pouch.errors import InvalidParameter


def _ctx(request: web.Request) -> ApiContext:
    ctx: ApiContext = request.app["ctx"]
    return ctx


async def create(request: web.Request) -> web.Response:
    body = await request.read()
    name = request.query.get("name", "")
    container = await _ctx(request).containers.create(body, name)
    return json_response({"Id": container.id, "Warnings": []}, status=201)


async def list_(request: web.Request) -> web.Response:
    containers = _ctx(request).containers.list(
        all=query_bool(request, "all"), filters=query_filters(request)
    )
    limit = query_int(request, "limit")
    if limit is not None and limit > 0:
        containers = containers[:limit]
    return json_response(containers)


async def inspect(request: web.Request) -> web.Response:
    return json_response(_ctx(request).containers.inspect(request.match_info["id"]))


async def start(request: web.Request) -> web.Response:
    await _ctx(request).containers.start(request.match_info["id"])
    return web.Response(status=204)


async def stop(request: web.Request) -> web.Response:
    timeout = query_int(request, "t")
    await _ctx(request).containers.stop(request.match_info["id"], timeout)
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    signal = request.query.get("signal") or "SIGKILL"
    await _ctx(request).containers.kill(request.match_info["id"], signal)
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    timeout = query_int(request, "t")
    await _ctx(request).containers.restart(request.match_info["id"], timeout)
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    force = query_bool(request, "force")
    await _ctx(request).containers.remove(request.match_info["id"], force=force)
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    """Headers at once, the body at exit: clients wait on the open response."""
    condition = request.query.get("condition", "not-running")
    waiting = _ctx(request).containers.wait_future(request.match_info["id"], condition)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    code = await waiting
    await response.write(b'{"StatusCode": %d, "Error": null}\n' % code)
    await response.write_eof()
    return response


async def logs(request: web.Request) -> web.StreamResponse:
    stdout = query_bool(request, "stdout")
    stderr = query_bool(request, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("you must choose at least one stream: stdout or stderr")
    tail_text = request.query.get("tail", "all")
    tail = None if tail_text in ("", "all") else query_int(request, "tail")
    timestamps = query_bool(request, "timestamps")
    container, entries = _ctx(request).containers.logs(
        request.match_info["id"],
        follow=query_bool(request, "follow"),
        stdout=stdout,
        stderr=stderr,
        tail=tail,
        since=float(request.query.get("since") or 0),
        until=float(request.query.get("until") or 0),
        timestamps=timestamps,
    )
    tty = container.request.Tty
    content_type = "application/vnd.docker.raw-stream" if tty else (
        "application/vnd.docker.multiplexed-stream"
    )
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        async for entry in entries:
            data = entry.data
            if timestamps:
                data = _timestamp(entry.time).encode() + b" " + data
            await response.write(data if tty else jsonlog.frame(entry.stream, data))
        await response.write_eof()
    return response


def _timestamp(when: float | str) -> str:
    if isinstance(when, str):
        return when
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def routes() -> list[tuple[str, str, object]]:
    return [
        ("POST", "/containers/create", create),
        ("GET", "/containers/json", list_),
        ("GET", "/containers/{id}/json", inspect),
        ("POST", "/containers/{id}/start", start),
        ("POST", "/containers/{id}/stop", stop),
        ("POST", "/containers/{id}/kill", kill),
        ("POST", "/containers/{id}/restart", restart),
        ("POST", "/containers/{id}/wait", wait),
        ("DELETE", "/containers/{id}", remove),
        ("GET", "/containers/{id}/logs", logs),
    ]
