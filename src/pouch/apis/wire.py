"""Response helpers and the error mapping.

The docker CLI only decodes bodies whose Content-Type is exactly
``application/json``; aiohttp's json_response appends a charset, so bodies are
encoded here and the header set by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pouch.errors import NotModified, PouchError

log = logging.getLogger("pouch.api")

JSON = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def error_response(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status=status)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotModified:
        return web.Response(status=304)
    except PouchError as exc:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc)
        else:
            log.debug("%s %s: %d %s", request.method, request.path, exc.status, exc)
        return error_response(exc.status, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_response(exc.status, exc.reason or "error")
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, f"internal error: {exc!r}")


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Docker clients send 1/0, true/false, and (docker-py) True/False."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes")


def query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    from pouch.errors import InvalidParameter

    try:
        return int(value)
    except ValueError as exc:
        raise InvalidParameter(
            f"invalid {name}={value!r}: expected an integer"
        ) from exc


def query_filters(request: web.Request) -> dict[str, list[str]]:
    """``filters`` as JSON: {"key": ["v"]} or the older {"key": {"v": true}}."""
    from pouch.errors import InvalidParameter

    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid filters: {raw!r} is not JSON") from exc
    if not isinstance(parsed, dict):
        raise InvalidParameter(f"invalid filters: {raw!r} is not a JSON object")
    return {
        key: list(values)
        if isinstance(values, list)
        else [k for k, v in values.items() if v]  # noqa: E501
        for key, values in parsed.items()
    }


async def json_object(
    request: web.Request, what: str = "request body"
) -> dict[str, Any]:
    """The request's body as a JSON object (empty means ``{}``), or a 400 that says
    which rule it broke."""
    from pouch.errors import InvalidParameter

    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidParameter(f"invalid JSON in {what}: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidParameter(f"{what} must be a JSON object")
    return body
