"""GET /events: the daemon's events as a stream of JSON objects."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import query_filters
from pouch.errors import InvalidParameter
from pouch.mgr.events import parse_time

FILTER_KEYS = {"container", "event", "type", "image", "label", "network", "scope"}


async def events(request: web.Request) -> web.StreamResponse:
    ctx: ApiContext = request.app["ctx"]
    filters = query_filters(request)
    unknown = sorted(set(filters) - FILTER_KEYS)
    if unknown:
        raise InvalidParameter(f"invalid filter '{unknown[0]}'")
    since = parse_time(request.query.get("since"), "since")
    until = parse_time(request.query.get("until"), "until")
    # Subscribed before the headers go out: a client that acts as soon as it has
    # them sees the events of what it did.
    subscription = ctx.containers.events.subscribe(since, until)
    try:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            async for event in subscription.events():
                if event.matches(filters):
                    await response.write(json.dumps(event.to_api()).encode() + b"\n")
            await response.write_eof()
    finally:
        subscription.close()
    return response
