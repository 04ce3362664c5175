"""/plugins: every plugin, its kind, points, settings and what it has done."""

from __future__ import annotations

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_response


async def list_(request: web.Request) -> web.Response:
    ctx: ApiContext = request.app["ctx"]
    return json_response(ctx.plugins.details())


def routes() -> list[tuple[str, str, object]]:
    return [("GET", "/plugins", list_)]
