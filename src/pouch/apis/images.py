"""/images routes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_response, query_bool


def _ctx(request: web.Request) -> ApiContext:
    ctx: ApiContext = request.app["ctx"]
    return ctx


async def list_(request: web.Request) -> web.Response:
    return json_response(await _ctx(request).containers.images.list())


async def inspect(request: web.Request) -> web.Response:
    images = _ctx(request).containers.images
    return json_response(await images.inspect(request.match_info["name"]))


async def remove(request: web.Request) -> web.Response:
    images = _ctx(request).containers.images
    force = query_bool(request, "force")
    return json_response(await images.remove(request.match_info["name"], force=force))


async def load(request: web.Request) -> web.StreamResponse:
    """The tarball (often chunked) goes to a file first: the importer reads members
    in the order the manifest names them, not the order they arrive in."""
    ctx = _ctx(request)
    tmp_dir = ctx.home_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=".tar") as spool:
        async for chunk in request.content.iter_chunked(1 << 20):
            spool.write(chunk)
        spool.flush()
        lines = await ctx.containers.images.load(Path(spool.name))
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for line in lines:
        await response.write(json.dumps({"stream": line + "\n"}).encode() + b"\n")
    await response.write_eof()
    return response


def routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/images/json", list_),
        ("POST", "/images/load", load),
        ("GET", "/images/{name:.+}/json", inspect),
        ("DELETE", "/images/{name:.+}", remove),
    ]
