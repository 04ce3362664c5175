"""/containers routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from pouch.apis import attach, system
from pouch.apis import events as events_api
from pouch.apis import exec as exec_api
from pouch.apis.context import ApiContext
from pouch.apis.wire import (
    json_object,
    json_response,
    query_bool,
    query_filters,
    query_int,
    query_timestamp,
)
from pouch.ctrd import jsonlog
from pouch.errors import Conflict, InvalidParameter
from pouch.mgr import archive, operations
from pouch.mgr import stats as stats_mod
from pouch.mgr import top as top_mod
from pouch.types import WaitCondition

STAT_HEADER = "X-Docker-Container-Path-Stat"
_ARCHIVE_CHUNK = 1 << 16


def _ctx(request: web.Request) -> ApiContext:
    ctx: ApiContext = request.app["ctx"]
    return ctx


async def create(request: web.Request) -> web.Response:
    body = await request.read()
    name = request.query.get("name", "")
    container = await _ctx(request).containers.create(body, name)
    return json_response({"Id": container.id, "Warnings": []}, status=201)


async def list_(request: web.Request) -> web.Response:
    manager = _ctx(request).containers
    all_, filters = query_bool(request, "all"), query_filters(request)
    if query_bool(request, "size"):
        containers = await manager.list_with_sizes(all=all_, filters=filters)
    else:
        containers = manager.list(all=all_, filters=filters)
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
    force, volumes = query_bool(request, "force"), query_bool(request, "v")
    await _ctx(request).containers.remove(
        request.match_info["id"], force=force, volumes=volumes
    )
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    """Headers at once, the body at exit: clients wait on the open response. So
    everything that can be refused is checked before the headers go out."""
    condition = _wait_condition(request)
    waiting = _ctx(request).containers.wait_future(request.match_info["id"], condition)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    code = await waiting
    # The client may have gone away meanwhile (``docker run`` killed by a signal).
    with contextlib.suppress(ConnectionError):
        await response.write(b'{"StatusCode": %d, "Error": null}\n' % code)
        await response.write_eof()
    return response


def _wait_condition(request: web.Request) -> str:
    value = request.query.get("condition") or WaitCondition.NOT_RUNNING
    try:
        return WaitCondition(value).value
    except ValueError:
        expected = ", ".join(c.value for c in WaitCondition)
        raise InvalidParameter(
            f"invalid condition {value!r}: expected one of {expected}"
        ) from None


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
        since=query_timestamp(request, "since") or 0,
        until=query_timestamp(request, "until") or 0,
        timestamps=timestamps,
    )
    tty = container.request.Tty
    content_type = (
        "application/vnd.docker.raw-stream"
        if tty
        else ("application/vnd.docker.multiplexed-stream")
    )
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        # With ``timestamps`` the reader has already put each line's stamp in front.
        async for entry in entries:
            data = entry.data
            await response.write(data if tty else jsonlog.frame(entry.stream, data))
        await response.write_eof()
    return response


async def resize(request: web.Request) -> web.Response:
    height = query_int(request, "h") or 0
    width = query_int(request, "w") or 0
    await _ctx(request).containers.resize(request.match_info["id"], width, height)
    return web.Response(status=200)


async def top(request: web.Request) -> web.Response:
    container = _ctx(request).containers.get(request.match_info["id"])
    if not container.running:
        raise Conflict(f"Container {container.id} is not running")
    pids = await _runtime(request).task_pids(container.id)
    return json_response(await top_mod.top(pids, request.query.get("ps_args", "")))


def _runtime(request: web.Request) -> Any:
    return _ctx(request).containers.runtime


async def stats(request: web.Request) -> web.StreamResponse:
    """One document (``stream=0``) or one a second until the client goes away."""
    container = _ctx(request).containers.get(request.match_info["id"])
    stream = query_bool(request, "stream", default=True)
    one_shot = query_bool(request, "one-shot")
    if not stream:
        return json_response(await _stats_doc(request, container.id, not one_shot))
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    previous = None
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while True:
            doc = await _stats_doc(request, container.id, False)
            if previous is not None and doc["read"] != stats_mod.ZERO_TIME:
                stats_mod.with_previous(doc, previous)
            previous = doc
            await response.write(json.dumps(doc).encode() + b"\n")
            await asyncio.sleep(1)
    return response


async def _stats_doc(request: web.Request, ref: str, with_pre: bool) -> dict[str, Any]:
    container = _ctx(request).containers.get(ref)
    if not container.running:
        return stats_mod.stopped(container.id, container.name)
    try:
        pids = await _runtime(request).task_pids(container.id)
    except Exception:
        return stats_mod.stopped(container.id, container.name)
    pid = container.state.pid

    def take() -> dict[str, Any]:
        return stats_mod.sample(container.id, container.name, pid, len(pids))

    first = await asyncio.to_thread(take)
    if not with_pre:
        return first
    # The CPU share needs two readings; dockerd's own sampler is a second apart.
    await asyncio.sleep(0.5)
    return stats_mod.with_previous(await asyncio.to_thread(take), first)


async def archive_head(request: web.Request) -> web.Response:
    path = _archive_path(request)
    async with archive.container_root(
        _ctx(request).containers, request.match_info["id"]
    ) as fs:
        doc = await asyncio.to_thread(archive.path_stat, fs, path)
    return web.Response(status=200, headers={STAT_HEADER: archive.stat_header(doc)})


async def archive_get(request: web.Request) -> web.Response:
    path = _archive_path(request)
    async with archive.container_root(
        _ctx(request).containers, request.match_info["id"]
    ) as fs:
        doc = await asyncio.to_thread(archive.path_stat, fs, path)
        data = await asyncio.to_thread(archive.tar_of, fs, path)
    headers = {
        STAT_HEADER: archive.stat_header(doc),
        "Content-Type": "application/x-tar",
    }  # noqa: E501
    return web.Response(body=data, headers=headers)


async def archive_put(request: web.Request) -> web.Response:
    """The body is streamed into the container as it arrives."""
    path = _archive_path(request)
    no_overwrite = query_bool(request, "noOverwriteDirNonDir")
    async with archive.container_root(
        _ctx(request).containers, request.match_info["id"]
    ) as fs:
        body = request.content.iter_chunked(_ARCHIVE_CHUNK)
        await archive.extract(fs, path, body, no_overwrite_dir_non_dir=no_overwrite)
    return web.Response(status=200)


def _archive_path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("path is required: name a file or directory")
    if "\0" in path:
        raise InvalidParameter(f"path {path!r} holds a NUL byte: name a file")
    return path


async def update(request: web.Request) -> web.Response:
    body = await json_object(request, "update request")
    manager = _ctx(request).containers
    warnings = await operations.update(manager, request.match_info["id"], body)
    return json_response({"Warnings": warnings})


async def pause(request: web.Request) -> web.Response:
    await operations.pause(_ctx(request).containers, request.match_info["id"])
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await operations.unpause(_ctx(request).containers, request.match_info["id"])
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    name = request.query.get("name", "")
    if not name:
        raise InvalidParameter("name is required: give the container's new name")
    await operations.rename(_ctx(request).containers, request.match_info["id"], name)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    report = await operations.prune(_ctx(request).containers, query_filters(request))
    return json_response(report)


async def prune_images(request: web.Request) -> web.Response:
    manager = _ctx(request).containers
    return json_response(await operations.prune_images(manager, query_filters(request)))


async def changes(request: web.Request) -> web.Response:
    found = await operations.changes(_ctx(request).containers, request.match_info["id"])
    return json_response(found or None)


async def export(request: web.Request) -> web.StreamResponse:
    """The container's whole filesystem as one tarball."""
    manager = _ctx(request).containers
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    async with archive.layers_view(manager, request.match_info["id"]) as root:
        data = await asyncio.to_thread(archive.tar_of, root, "/.")
    await response.prepare(request)
    await response.write(data)
    await response.write_eof()
    return response


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
        ("POST", "/containers/{id}/attach", attach.attach),
        ("POST", "/containers/{id}/resize", resize),
        ("GET", "/containers/{id}/top", top),
        ("GET", "/containers/{id}/stats", stats),
        ("HEAD", "/containers/{id}/archive", archive_head),
        ("GET", "/containers/{id}/archive", archive_get),
        ("PUT", "/containers/{id}/archive", archive_put),
        *exec_api.routes(),
        ("GET", "/events", events_api.events),
        ("GET", "/system/df", system.disk_usage),
        ("POST", "/containers/{id}/pause", pause),
        ("POST", "/containers/{id}/update", update),
        ("POST", "/containers/{id}/unpause", unpause),
        ("POST", "/containers/{id}/rename", rename),
        ("POST", "/containers/prune", prune),
        ("POST", "/images/prune", prune_images),
        ("GET", "/containers/{id}/changes", changes),
        ("GET", "/containers/{id}/export", export),
    ]
