"""/volumes routes."""

from __future__ import annotations

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_object, json_response, query_bool, query_filters
from pouch.mgr.volumes import VolumeManager
from pouch.types import VolumeCreateRequest, parse_model


def _volumes(request: web.Request) -> VolumeManager:
    ctx: ApiContext = request.app["ctx"]
    return ctx.containers.volumes


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    wanted = parse_model(VolumeCreateRequest, body, "volume create request")
    volume = _volumes(request).create(
        wanted.Name or "",
        driver=wanted.Driver or "",
        options=wanted.DriverOpts,
        labels=wanted.Labels,
    )
    return json_response(volume.to_api(), status=201)


async def list_(request: web.Request) -> web.Response:
    found = _volumes(request).find(query_filters(request))
    return json_response({"Volumes": [v.to_api() for v in found], "Warnings": []})


async def inspect(request: web.Request) -> web.Response:
    return json_response(_volumes(request).get(request.match_info["name"]).to_api())


async def remove(request: web.Request) -> web.Response:
    force = query_bool(request, "force")
    await _volumes(request).remove(request.match_info["name"], force=force)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    filters = query_filters(request)
    # Before API 1.42 a prune took every unused volume, named ones too; dockerd
    # keeps that meaning for older clients, so it is kept here.
    version = request.match_info.get("version")
    if version and _older(version, "1.42") and "all" not in filters:
        filters["all"] = ["true"]
    removed, reclaimed = await _volumes(request).prune(filters)
    return json_response({"VolumesDeleted": removed, "SpaceReclaimed": reclaimed})


def _older(version: str, than: str) -> bool:
    def parsed(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    return parsed(version) < parsed(than)


def routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/volumes", list_),
        ("POST", "/volumes/create", create),
        ("POST", "/volumes/prune", prune),
        ("GET", "/volumes/{name}", inspect),
        ("DELETE", "/volumes/{name}", remove),
    ]
