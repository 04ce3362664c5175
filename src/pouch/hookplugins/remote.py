"""Plugins in other processes: HTTP with JSON over a unix socket.

The protocol (docs/plugins.md has it in full): ``POST /Plugin.Activate`` answers the
plugin's name and the points it implements; ``POST /PouchPlugin.<point>`` makes one
call, with the arguments and the result as JSON objects (the pre_create body as
base64). A non-2xx status or a non-empty ``Err`` is the plugin raising at that point.

Each call opens a new connection. Keeping connections alive would save a little, but
a plugin that restarts would then meet the daemon with dead connections, and a call
that died on one could not tell "the plugin crashed in my call" (an error under the
policy) from "the pooled connection was stale" (worth a retry). With one connection
per call, a restarted plugin is simply reached again; the first call after a failed
connection activates it anew, so a plugin that comes back with other points is seen
as it now is.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from pouch.hookplugins.loader import ABSENT, PluginLoadError
from pouch.hookplugins.settings import DEFAULT_TIMEOUT, POINTS, PluginSettings
from pouch.hookplugins.stats import Stats

ACTIVATE = "/Plugin.Activate"
# The largest answer read from a plugin; a create body is a few kilobytes.
MAX_ANSWER = 16 * 1024 * 1024
CALL = "/PouchPlugin.{point}"


class RemoteError(Exception):
    """An out-of-process plugin answered with an error, or did not answer.
    ``unreachable``: nothing accepted the connection (no process on the socket)."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class PluginUnreachable(PluginLoadError):
    """No process listens on the plugin's socket."""


def is_remote(path: str) -> bool:
    return path.startswith("unix://") or path.endswith(".sock")


def socket_path(address: str) -> str:
    return address.removeprefix("unix://")


@dataclass
class RemotePlugin:
    """A plugin process reached at a unix socket."""

    name: str
    address: str
    settings: PluginSettings
    points: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    kind: str = "process"
    _session: aiohttp.ClientSession | None = None
    _stale: bool = False
    # Calls in flight to one plugin. A server on a unix socket refuses connections
    # beyond its listen backlog (5 for the standard library's servers), and the
    # refusal surfaces as a broken call; so no more than that are opened at once,
    # and the rest wait their turn within their own timeouts.
    _in_flight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))

    async def activate(self) -> None:
        """The handshake: which points the plugin implements."""
        try:
            reply = await self._post(ACTIVATE, {})
        except TypeError as exc:  # an answer that is not a JSON object
            raise RemoteError(f"activation answer: {exc}") from exc
        implements = reply.get("Implements")
        if not isinstance(implements, list) or not all(
            isinstance(p, str) for p in implements
        ):
            raise RemoteError(
                f"activation answer must list Implements as strings, not {reply!r}"
            )
        unknown = sorted(set(implements) - set(POINTS))
        if unknown:
            raise RemoteError(f"activation names unknown points {unknown}")
        self.points = [p for p in POINTS if p in implements]
        self._stale = False

    async def invoke(self, point: str, *args: Any) -> Any:
        """One call, its answer in the shape an in-process plugin would return."""
        if self._stale:
            await self.activate()
        if point not in self.points:
            return ABSENT
        request = _request(point, args)
        reply = await self._post(CALL.format(point=point), request)
        return _result(point, reply)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with (
                self._in_flight,
                self._client().post(f"http://plugin{path}", json=body) as resp,
            ):
                raw = await _read_at_most(resp.content, MAX_ANSWER + 1)
                status = resp.status
        except aiohttp.ClientError as exc:
            self._stale = True
            unreachable = isinstance(exc, aiohttp.ClientConnectorError)
            raise RemoteError(
                f"no answer from {self.address}: {exc!r}", unreachable
            ) from exc
        if len(raw) > MAX_ANSWER:
            raise RemoteError(f"answer from {self.address} is over {MAX_ANSWER} bytes")
        return _decode_reply(status, raw.decode(errors="replace"))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.UnixConnector(
                path=socket_path(self.address), force_close=True
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session


async def connect(settings: PluginSettings, name: str | None = None) -> RemotePlugin:
    """A remote plugin, activated; a load error if it does not answer."""
    plugin = RemotePlugin(name=name or settings.path, address=settings.path,
                          settings=settings)  # fmt: skip
    try:
        await activate_in_time(plugin)
    except (RemoteError, TimeoutError) as exc:
        await plugin.close()
        message = (
            f"plugin {plugin.name}: activation at {plugin.address} failed: "
            f"{describe(exc)}"
        )
        if isinstance(exc, RemoteError) and exc.unreachable:
            raise PluginUnreachable(message) from exc
        raise PluginLoadError(message) from exc
    return plugin


async def activate_in_time(plugin: RemotePlugin) -> None:
    """The handshake, bounded by the plugin-wide timeout (or the default)."""
    timeout = plugin.settings.timeout or DEFAULT_TIMEOUT
    await asyncio.wait_for(plugin.activate(), timeout)


def describe(exc: BaseException) -> str:
    """An activation failure in words (a TimeoutError has none of its own)."""
    return "timed out" if isinstance(exc, TimeoutError) else str(exc)


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to ``limit`` bytes; the rest, if any, is never read."""
    chunks, size = [], 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _decode_reply(status: int, text: str) -> dict[str, Any]:
    try:
        reply = json.loads(text) if text.strip() else {}
    except ValueError:
        reply = None
    if not 200 <= status < 300:
        err = reply.get("Err") if isinstance(reply, dict) else None
        raise RemoteError(f"status {status}: {err or text[:200]!r}")
    if not isinstance(reply, dict):
        raise TypeError(f"answer must be a JSON object, not {text[:200]!r}")
    if reply.get("Err"):
        raise RemoteError(str(reply["Err"]))
    return reply


def _request(point: str, args: tuple[Any, ...]) -> dict[str, Any]:
    if point == "pre_create":
        (body,) = args
        data = body.read() if hasattr(body, "read") else bytes(body)
        return {"Body": base64.b64encode(data).decode()}
    if point == "pre_start":
        return {"Container": args[0]}
    if point == "pre_create_endpoint":
        return {"ContainerID": args[0], "Env": list(args[1])}
    return {}


def _result(point: str, reply: dict[str, Any]) -> Any:
    """The answer as the in-process return value; ``results`` checks its shape."""
    if point == "pre_create":
        body = reply.get("Body")
        if not isinstance(body, str):
            raise TypeError(
                f"pre_create answer must carry Body as base64, not {body!r}"
            )
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise TypeError(f"pre_create answer's Body is not base64: {exc}") from exc
    if point == "pre_start":
        return reply.get("Priorities", []), reply.get("Hooks", [])
    if point == "pre_create_endpoint":
        return (
            reply.get("Priority", 0),
            reply.get("DisableResolver", False),
            reply.get("GenericParams", {}),
        )
    return None


def discover(socket_dir: Path | None, spec_dir: Path | None) -> list[PluginSettings]:
    """Sockets in ``socket_dir`` and spec files in ``spec_dir``, by file name."""
    found: list[PluginSettings] = []
    if socket_dir is not None and socket_dir.is_dir():
        for sock in sorted(socket_dir.glob("*.sock")):
            found.append(PluginSettings(path=str(sock)))
    if spec_dir is not None and spec_dir.is_dir():
        for spec in sorted(spec_dir.iterdir()):
            if spec.suffix in (".spec", ".json"):
                found.append(read_spec_file(spec))
    return found


def read_spec_file(path: Path) -> PluginSettings:
    """``NAME.spec`` holds an address (``unix:///run/x.sock``); ``NAME.json`` holds
    ``{"Addr": ..., "timeout": ..., "policy": ..., "points": ...}``."""
    from pouch.hookplugins.settings import SettingsError, from_config

    try:
        text = path.read_text().strip()
        if path.suffix == ".spec":
            if not is_remote(text):
                raise SettingsError(f"must hold a unix:// address, not {text!r}")
            return PluginSettings(path=text)
        doc = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("Addr"), str):
            raise SettingsError("must be a JSON object with Addr")
        entry = {"path": doc["Addr"]}
        entry.update({k: v for k, v in doc.items() if k in ("timeout", "policy",
                                                             "points")})  # fmt: skip
        return from_config(entry)
    except (OSError, ValueError) as exc:
        raise PluginLoadError(f"plugin spec file {path}: {exc}") from exc
