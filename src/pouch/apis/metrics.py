"""/metrics in Prometheus's text format, and the request metrics behind it.

The daemon's requests are counted and timed by route (the route's pattern, not the
path, so a scrape does not grow a series per container id) and status. Plugin call
latency is recorded by ``hookplugins`` into the same registry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "pouch_api_requests",
    "API requests answered, by method, route and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "pouch_api_request_seconds",
    "Time to answer an API request (until its handler returns), by method and route.",
    ["method", "route"],
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        REQUESTS.labels(request.method, route, str(status)).inc()
        REQUEST_SECONDS.labels(request.method, route).observe(
            time.perf_counter() - started
        )


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    # One series per route, whichever API version the client put in the path.
    return resource.canonical.removeprefix("/v{version}")


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def routes() -> list[tuple[str, str, object]]:
    return [("GET", "/metrics", metrics)]
