"""/images routes, and /auth.

Pull, push and import answer with Docker's streamed JSON messages. The response
starts with the first message: an error raised before it (a bad reference, no
such image, refused credentials) is an ordinary error status, as docker's CLI
expects; one raised after it is sent as an ``error`` message, the only way left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from pouch.apis.context import ApiContext
from pouch.apis.wire import json_object, json_response, query_bool, query_filters
from pouch.errors import InvalidParameter, PouchError
from pouch.mgr.image import ImageManager
from pouch.registry import auth, progress

log = logging.getLogger("pouch.api")


def _ctx(request: web.Request) -> ApiContext:
    ctx: ApiContext = request.app["ctx"]
    return ctx


def _images(request: web.Request) -> ImageManager:
    return _ctx(request).containers.images


async def list_(request: web.Request) -> web.Response:
    images = await _images(request).list(query_filters(request))
    if _older_than(request, (1, 43)):
        for image in images:
            _show_none(image)
    return json_response(images)


def _older_than(request: web.Request, version: tuple[int, int]) -> bool:
    """The client asked for an API version before ``version`` in the path."""
    wanted = request.match_info.get("version")
    if not wanted:
        return False
    major, _, minor = wanted.partition(".")
    return (int(major), int(minor)) < version


def _show_none(image: dict[str, Any]) -> None:
    """Before API 1.43 an image with neither tag nor digest lists placeholders."""
    if not image["RepoTags"] and not image["RepoDigests"]:
        image["RepoTags"] = ["<none>:<none>"]
        image["RepoDigests"] = ["<none>@<none>"]


async def inspect(request: web.Request) -> web.Response:
    return json_response(await _images(request).inspect(request.match_info["name"]))


async def history(request: web.Request) -> web.Response:
    return json_response(await _images(request).history(request.match_info["name"]))


async def remove(request: web.Request) -> web.Response:
    force = query_bool(request, "force")
    images = _images(request)
    return json_response(await images.remove(request.match_info["name"], force=force))


async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo", "")
    if not repo:
        raise InvalidParameter("tag needs a repository name: repo is empty")
    await _images(request).tag(
        request.match_info["name"], repo, request.query.get("tag", "")
    )
    return web.Response(status=201)


# -- streamed operations --------------------------------------------------------


class _Progress:
    """Docker's message stream on one response, opened by its first message."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None
        self._lock = asyncio.Lock()

    async def emit(self, message: progress.Message) -> None:
        async with self._lock:
            if self.response is None:
                self.response = web.StreamResponse(
                    headers={"Content-Type": "application/json"}
                )
                await self.response.prepare(self.request)
            await self.response.write(json.dumps(message).encode() + b"\r\n")

    async def run(self, job: Any) -> web.StreamResponse:
        """Await ``job``; errors become a status before the first message and an
        ``error`` message after it."""
        try:
            await job
        except PouchError as exc:
            if self.response is None:
                raise
            await self.emit(progress.error(str(exc)))
        except ConnectionResetError:
            # The client went away; the job stopped at its next message and has
            # cleaned up after itself (ingests aborted, lease ended).
            log.info("%s %s: client went away", self.request.method, self.request.path)
            assert self.response is not None
            return self.response
        except Exception as exc:
            if self.response is None:
                raise
            log.exception("%s %s failed", self.request.method, self.request.path)
            await self.emit(progress.error(f"internal error: {exc!r}"))
        if self.response is None:
            await self.emit(progress.status("Done"))
        assert self.response is not None
        await self.response.write_eof()
        return self.response


def _credentials(request: web.Request) -> auth.Credentials | None:
    try:
        return auth.decode_header(request.headers.get("X-Registry-Auth"))
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc


async def create(request: web.Request) -> web.StreamResponse:
    """``fromImage`` pulls; ``fromSrc=-`` imports the body as a rootfs."""
    if request.query.get("fromSrc"):
        return await _import(request)
    image = request.query.get("fromImage", "")
    if not image:
        raise InvalidParameter("create needs fromImage (pull) or fromSrc (import)")
    name = _with_tag(image, request.query.get("tag", ""))
    creds = _credentials(request)
    stream = _Progress(request)
    return await stream.run(_images(request).pull(name, creds, stream.emit))


def _with_tag(image: str, tag: str) -> str:
    if not tag:
        return image
    if tag.startswith("sha256:"):
        return f"{image.split('@', 1)[0]}@{tag}"
    last = image.rsplit("/", 1)[-1]
    base = image.rsplit(":", 1)[0] if ":" in last else image
    return f"{base}:{tag}"


async def _import(request: web.Request) -> web.StreamResponse:
    if request.query["fromSrc"] != "-":
        raise InvalidParameter(
            f"fromSrc={request.query['fromSrc']!r}: only '-' (the request body) "
            "is supported"
        )
    images = _images(request)
    changes = request.query.getall("changes", [])
    async with _spooled(request) as path:
        image_id = await images.import_rootfs(
            path,
            request.query.get("repo", ""),
            request.query.get("tag", ""),
            request.query.get("message", ""),
            changes,
        )
    return json_response({"status": image_id})


async def push(request: web.Request) -> web.StreamResponse:
    name = _with_tag(request.match_info["name"], request.query.get("tag", ""))
    creds = _credentials(request)
    stream = _Progress(request)
    return await stream.run(_images(request).push(name, creds, stream.emit))


async def login(request: web.Request) -> web.Response:
    """Check credentials against a registry (``docker login``); stores nothing."""
    body = await json_object(request, "auth request")
    if not body.get("username"):
        raise InvalidParameter("auth needs username and password")
    creds = auth.Credentials(str(body["username"]), str(body.get("password", "")))
    await _images(request).check_login(str(body.get("serveraddress") or ""), creds)
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})


# -- archives ---------------------------------------------------------------------


async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def save_many(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", [])
    if not names:
        raise InvalidParameter("save needs at least one image in names")
    return await _save(request, names)


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    chunks: AsyncIterator[bytes] = await _images(request).save(names)
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def load(request: web.Request) -> web.StreamResponse:
    """The tarball (often chunked) goes to a file first: the importer reads members
    in the order the manifest names them, not the order they arrive in."""
    async with _spooled(request) as path:
        lines = await _images(request).load(path)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for line in lines:
        await response.write(json.dumps({"stream": line + "\n"}).encode() + b"\n")
    await response.write_eof()
    return response


@contextlib.asynccontextmanager
async def _spooled(request: web.Request) -> AsyncIterator[Path]:
    """The request body in a temporary file under the home dir, removed after."""
    tmp_dir = _ctx(request).home_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=".tar") as spool:
        async for chunk in request.content.iter_chunked(1 << 20):
            spool.write(chunk)
        spool.flush()
        yield Path(spool.name)


def routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/images/json", list_),
        ("POST", "/images/load", load),
        ("POST", "/images/create", create),
        ("GET", "/images/get", save_many),
        ("POST", "/auth", login),
        ("GET", "/images/{name:.+}/json", inspect),
        ("GET", "/images/{name:.+}/history", history),
        ("GET", "/images/{name:.+}/get", save_one),
        ("POST", "/images/{name:.+}/push", push),
        ("POST", "/images/{name:.+}/tag", tag),
        ("DELETE", "/images/{name:.+}", remove),
    ]
