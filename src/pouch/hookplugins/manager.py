"""Calling plugins at the five points, in the order they were given.

Each point has one failure rule (docs/plugins.md):

- ``pre_start_hook`` raises: the daemon does not start.
- ``pre_stop_hook`` raises: logged; shutdown goes on.
- ``pre_create`` raises or returns something unusable: the create fails (PluginError).
- ``pre_start`` likewise: the start fails and the container stays created.
- ``pre_create_endpoint`` raises or returns something unusable: logged; the endpoint
  gets the defaults.

A method may be plain or ``async def``. Plain methods run in a worker thread, so a
plugin that blocks, or that calls pouchd's own API, does not stall the event loop that
would answer it.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pouch.errors import PluginError
from pouch.hookplugins.loader import Plugin
from pouch.hookplugins.ordering import Hook

log = logging.getLogger("pouch.plugin")

_ABSENT = object()


@dataclass
class EndpointChoice:
    """What ``pre_create_endpoint`` decides for one endpoint."""

    priority: int = 0
    disable_resolver: bool = False
    generic_params: dict[str, Any] = field(default_factory=dict)


class PluginManager:
    def __init__(self, plugins: Sequence[Plugin] = ()) -> None:
        self.plugins = list(plugins)

    def describe(self) -> list[dict[str, Any]]:
        return [{"Name": p.name, "Points": list(p.points)} for p in self.plugins]

    async def pre_start_hook(self) -> None:
        for plugin in self.plugins:
            await self._call_or_fail(plugin, "pre_start_hook")

    async def pre_stop_hook(self) -> None:
        for plugin in self.plugins:
            try:
                await self._call(plugin, "pre_stop_hook")
            except Exception:
                log.exception("plugin %s failed at pre_stop_hook", plugin.name)

    async def pre_create(self, body: bytes) -> bytes:
        """Each plugin sees the body the previous one returned."""
        for plugin in self.plugins:
            result = await self._call_or_fail(plugin, "pre_create", io.BytesIO(body))
            if result is _ABSENT:
                continue
            try:
                body = _as_bytes(result)
            except TypeError as exc:
                raise PluginError(plugin.name, "pre_create", exc) from exc
        return body

    async def pre_start(self, container: dict[str, Any]) -> list[Hook]:
        hooks: list[Hook] = []
        for plugin in self.plugins:
            view = copy.deepcopy(container)
            result = await self._call_or_fail(plugin, "pre_start", view)
            if result is _ABSENT:
                continue
            try:
                hooks.extend(_as_hooks(result))
            except (TypeError, ValueError) as exc:
                raise PluginError(plugin.name, "pre_start", exc) from exc
        return hooks

    async def pre_create_endpoint(
        self, container_id: str, env: list[str]
    ) -> EndpointChoice:
        """A later plugin's priority and resolver choice override an earlier one's;
        generic params are merged, later keys winning."""
        choice = EndpointChoice()
        for plugin in self.plugins:
            try:
                result = await self._call(
                    plugin, "pre_create_endpoint", container_id, list(env)
                )
                if result is not _ABSENT:
                    _merge_endpoint(choice, result)
            except Exception:
                log.exception(
                    "plugin %s failed at pre_create_endpoint for container %s; "
                    "using defaults",
                    plugin.name,
                    container_id,
                )
        return choice

    async def _call_or_fail(self, plugin: Plugin, point: str, *args: Any) -> Any:
        try:
            return await self._call(plugin, point, *args)
        except Exception as exc:
            raise PluginError(plugin.name, point, exc) from exc

    async def _call(self, plugin: Plugin, point: str, *args: Any) -> Any:
        method = plugin.method(point)
        if method is None:
            return _ABSENT
        started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(method):
                result = await method(*args)
            else:
                result = await asyncio.to_thread(method, *args)
                if inspect.isawaitable(result):
                    result = await result
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("plugin %s %s took %.1f ms", plugin.name, point, elapsed)
        return result


def _as_bytes(result: Any) -> bytes:
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    read = getattr(result, "read", None)
    if callable(read):
        data = read()
        return data.encode() if isinstance(data, str) else bytes(data)
    raise TypeError(
        f"pre_create must return a binary stream or bytes, not {type(result).__name__}"
    )


def _as_hooks(result: Any) -> list[Hook]:
    if not (isinstance(result, tuple | list) and len(result) == 2):
        raise TypeError("pre_start must return (priorities, hooks)")
    priorities, hooks = result
    if not isinstance(priorities, list | tuple) or not isinstance(hooks, list | tuple):
        raise TypeError("pre_start must return two lists: priorities and hooks")
    if len(priorities) != len(hooks):
        raise ValueError(
            f"pre_start returned {len(priorities)} priorities "
            f"for {len(hooks)} hooks; they must pair up"
        )
    return [_as_hook(p, h) for p, h in zip(priorities, hooks, strict=True)]


def _as_hook(priority: Any, entry: Any) -> Hook:
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"hook priority must be an int, not {priority!r}")
    words = list(entry) if isinstance(entry, list | tuple) else None
    if not words or not all(isinstance(w, str) for w in words):
        raise TypeError(f"hook must be a list [path, argv0, arg, ...], not {entry!r}")
    path = words[0]
    if not path.startswith("/"):
        raise ValueError(f"hook path must be absolute, not {path!r}")
    return Hook(path=path, args=words[1:] or [path], priority=priority)


def _merge_endpoint(choice: EndpointChoice, result: Any) -> None:
    if result is None:
        return
    if not (isinstance(result, tuple | list) and len(result) == 3):
        raise TypeError(
            "pre_create_endpoint must return (priority, disable_resolver, "
            f"generic_params), not {result!r}"
        )
    priority, disable_resolver, params = result
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"endpoint priority must be an int, not {priority!r}")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"generic params must be a dict, not {params!r}")
    choice.priority = priority
    choice.disable_resolver = bool(disable_resolver)
    choice.generic_params.update(params or {})
