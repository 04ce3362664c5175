"""Response helpers and the error mapping.

The docker CLI only decodes bodies whose Content-Type is exactly
``application/json``; aiohttp's json_response appends a charset, so bodies are
encoded here and the header set by hand.
"""

from __future__ import annotations

import json
import logging
import re
import reprlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pouch.errors import InvalidParameter, NotModified, PouchError
from pouch.types import decode_object

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
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidParameter(
            f"invalid {name}={value!r}: expected an integer"
        ) from exc


_TIMESTAMP = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def query_timestamp(request: web.Request, name: str) -> float | None:
    """``since``/``until`` as the docker CLI sends them: seconds since the epoch,
    with an optional fraction."""
    value = request.query.get(name)
    if not value:
        return None
    if not _TIMESTAMP.fullmatch(value):
        raise InvalidParameter(
            f"invalid {name}={value!r}: expected seconds since the epoch, such as "
            "1700000000.5"
        )
    return float(value)


def query_filters(request: web.Request) -> dict[str, list[str]]:
    """``filters`` as JSON: {"key": ["v"]}, or the older {"key": {"v": true}} that
    keeps the values mapped to true. Anything else is refused, naming the key."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameter(
            f"invalid filters: {reprlib.repr(raw)} is not JSON"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidParameter(
            f"invalid filters: {reprlib.repr(raw)} is not a JSON object"
        )
    return {key: _filter_values(key, values) for key, values in parsed.items()}


def _filter_values(key: str, values: Any) -> list[str]:
    if isinstance(values, list) and all(isinstance(v, str) for v in values):
        return values
    if isinstance(values, dict) and all(isinstance(v, bool) for v in values.values()):
        return [value for value, wanted in values.items() if wanted]
    raise InvalidParameter(
        f"invalid filter {key!r}: expected a list of strings or a map of strings to "
        f"booleans, not {reprlib.repr(values)}"
    )


async def json_object(
    request: web.Request, what: str = "request body"
) -> dict[str, Any]:
    """The request's body as a JSON object (empty means ``{}``), or a 400 that says
    which rule it broke."""
    return decode_object(await request.read(), what)
