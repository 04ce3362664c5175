"""/networks routes."""

from __future__ import annotations

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_object, json_response, query_filters
from pouch.mgr.network import NetworkManager


def _networks(request: web.Request) -> NetworkManager:
    ctx: ApiContext = request.app["ctx"]
    containers = ctx.containers
    return NetworkManager(containers.networks, containers)  # type: ignore[arg-type]


async def list_(request: web.Request) -> web.Response:
    return json_response(_networks(request).find(query_filters(request)))


async def inspect(request: web.Request) -> web.Response:
    return json_response(_networks(request).inspect(request.match_info["id"]))


async def create(request: web.Request) -> web.Response:
    network = await _networks(request).create(await json_object(request))
    return json_response({"Id": network.id, "Warning": ""}, status=201)


async def remove(request: web.Request) -> web.Response:
    await _networks(request).remove(request.match_info["id"])
    return web.Response(status=204)


async def connect(request: web.Request) -> web.Response:
    await _networks(request).connect(
        request.match_info["id"], await json_object(request)
    )
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = await json_object(request)
    await _networks(request).disconnect(request.match_info["id"], body)
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    removed = await _networks(request).prune()
    return json_response({"NetworksDeleted": removed})


def routes() -> list[tuple[str, str, object]]:
    # A network's name may hold a slash (dockerd only refuses a blank one), so
    # "{id}" takes one too, as dockerd's routes do.
    return [
        ("GET", "/networks", list_),
        ("GET", "/networks/json", list_),
        ("POST", "/networks/create", create),
        ("POST", "/networks/prune", prune),
        ("GET", "/networks/{id:.+}", inspect),
        ("DELETE", "/networks/{id:.+}", remove),
        ("POST", "/networks/{id:.+}/connect", connect),
        ("POST", "/networks/{id:.+}/disconnect", disconnect),
    ]
