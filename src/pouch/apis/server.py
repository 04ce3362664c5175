"""The aiohttp application and the sockets it listens on.

Every route also answers under a ``/vX.Y`` prefix, as the Docker API's clients send
it; both forms are registered rather than rewritten, so routing stays aiohttp's.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aiohttp import web

from pouch.apis import (
    attach,
    containers,
    images,
    metrics,
    networks,
    plugins,
    system,
    volumes,
)
from pouch.apis.context import ApiContext
from pouch.apis.wire import errors_middleware

log = logging.getLogger("pouch.api")

SHUTDOWN_TIMEOUT = 3.0
VERSION_PREFIX = r"/v{version:[0-9]+\.[0-9]+}"


def build_app(ctx: ApiContext) -> web.Application:
    app = web.Application(
        middlewares=[
            metrics.metrics_middleware,
            errors_middleware,
            system.version_middleware,
        ],
        client_max_size=0,
    )
    app["ctx"] = ctx
    table: list[tuple[str, str, Any]] = [
        ("GET", "/_ping", system.ping),
        ("HEAD", "/_ping", system.ping),
        ("GET", "/version", system.version),
        ("GET", "/info", system.info),
        *containers.routes(),
        ("GET", "/containers/{id}/attach/ws", attach.attach_ws),
        *images.routes(),
        *networks.routes(),
        *volumes.routes(),
        *plugins.routes(),
        *metrics.routes(),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, VERSION_PREFIX + path, handler)
    return app


async def serve(app: web.Application, listen: list[str]) -> web.AppRunner:
    # Streams (follow, attach, events) may stay open for ever; shutdown gives them a
    # few seconds, not aiohttp's default minute.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    for address in listen:
        site = _site(runner, address)
        await site.start()
        log.info("API listening on %s", address)
    return runner


def _site(runner: web.AppRunner, address: str) -> web.BaseSite:
    if address.startswith("unix://"):
        path = address.removeprefix("unix://")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        site: web.BaseSite = _UnixSite(runner, path)
        return site
    if address.startswith(("tcp://", "http://")):
        hostport = address.split("://", 1)[1]
        host, _, port = hostport.rpartition(":")
        return web.TCPSite(runner, host or "127.0.0.1", int(port))
    raise ValueError(f"invalid listen address {address!r}: expected unix:// or tcp://")


class _UnixSite(web.UnixSite):
    """A unix socket with mode 0660, as the daemon's socket should have."""

    async def start(self) -> None:
        await super().start()
        os.chmod(self._path, 0o660)
