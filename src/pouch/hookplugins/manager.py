"""Calling plugins at the five points, in the order they were given.

Every call is bounded by the plugin's timeout for that point and judged by its policy
(``settings``). A call fails when the plugin raises, does not answer in time, or
returns something of the wrong shape; then:

- policy ``fail``: the point's operation fails with a PluginError naming the plugin
  and point (the daemon does not start, the create or start fails, the endpoint is
  not made); at ``pre_stop_hook`` shutdown still goes on, and the daemon exits 1.
- policy ``ignore``: logged and counted; the plugin's contribution at that call is
  skipped (the body goes on unchanged, its hooks are dropped, the endpoint keeps the
  other plugins' choices).

A timeout abandons the call, never the plugin: its next call is made as usual.

The set of plugins can be replaced while calls are in flight (SIGHUP); each call of
a point works on the set it started with.
"""

from __future__ import annotations

import asyncio
import copy
import io
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pouch.errors import PluginError
from pouch.hookplugins.hooksd import HookSet
from pouch.hookplugins.loader import ABSENT
from pouch.hookplugins.ordering import STAGES, Hook
from pouch.hookplugins.results import as_bytes, as_hooks, merge_endpoint
from pouch.hookplugins.settings import PluginSettings, Policy
from pouch.hookplugins.stats import Stats

log = logging.getLogger("pouch.plugin")


class AnyPlugin(Protocol):
    """What the manager needs of a plugin, in-process or out-of-process."""

    name: str
    kind: str
    points: list[str]
    settings: PluginSettings
    stats: Stats

    async def invoke(self, point: str, *args: Any) -> Any: ...

    async def close(self) -> None: ...


class PluginTimeout(Exception):
    """A plugin did not answer within its timeout."""


@dataclass
class EndpointChoice:
    """What ``pre_create_endpoint`` decides for one endpoint."""

    priority: int = 0
    disable_resolver: bool = False
    generic_params: dict[str, Any] = field(default_factory=dict)


class PluginManager:
    def __init__(
        self,
        plugins: Sequence[AnyPlugin] = (),
        *,
        stages: Collection[str] = STAGES,
        hook_files: HookSet | None = None,
    ) -> None:
        self.plugins: list[AnyPlugin] = list(plugins)
        self.stages = frozenset(stages)
        self.hook_files = hook_files or HookSet()

    def replace(self, plugins: Sequence[AnyPlugin], hook_files: HookSet) -> None:
        """The new set, for calls that start from now on."""
        self.plugins = list(plugins)
        self.hook_files = hook_files

    def describe(self) -> list[dict[str, Any]]:
        return [{"Name": p.name, "Points": list(p.points)} for p in self.plugins]

    def details(self) -> list[dict[str, Any]]:
        """Every plugin with its settings and what it has done, for ``/plugins``."""
        return [_details(p) for p in self.plugins]

    # -- the daemon's points ------------------------------------------------------

    async def pre_start_hook(self, plugins: Sequence[AnyPlugin] | None = None) -> None:
        for plugin in self.plugins if plugins is None else plugins:
            await self._guarded(plugin, "pre_start_hook")

    async def pre_stop_hook(
        self, plugins: Sequence[AnyPlugin] | None = None
    ) -> list[PluginError]:
        """Calls every plugin whatever happens; the failures under ``fail``."""
        failures = []
        for plugin in self.plugins if plugins is None else plugins:
            try:
                await self._guarded(plugin, "pre_stop_hook")
            except PluginError as exc:
                log.error("%s", exc)
                failures.append(exc)
        return failures

    # -- the containers' points ---------------------------------------------------

    async def pre_create(self, body: bytes) -> bytes:
        """Each plugin sees the body the previous one returned."""
        for plugin in list(self.plugins):
            result = await self._guarded(
                plugin, "pre_create", io.BytesIO(body), check=as_bytes
            )
            if result is not ABSENT:
                body = result
        return body

    async def pre_start(self, container: dict[str, Any]) -> list[Hook]:
        hooks: list[Hook] = []
        for plugin in list(self.plugins):
            result = await self._guarded(
                plugin,
                "pre_start",
                copy.deepcopy(container),
                check=lambda r: as_hooks(r, self.stages),
            )
            if result is not ABSENT:
                hooks.extend(result)
        return hooks

    async def pre_create_endpoint(
        self, container_id: str, env: list[str]
    ) -> EndpointChoice:
        """A later plugin's priority and resolver choice override an earlier one's;
        generic params are merged, later keys winning."""
        choice = EndpointChoice()
        for plugin in list(self.plugins):
            await self._guarded(
                plugin,
                "pre_create_endpoint",
                container_id,
                list(env),
                check=lambda r: merge_endpoint(choice, r),
            )
        return choice

    def oci_hooks(
        self, annotations: Mapping[str, str], command: str, has_bind_mounts: bool
    ) -> list[Hook]:
        """The hooks.d hooks whose conditions this container meets."""
        return self.hook_files.matching(annotations, command, has_bind_mounts)

    # -- one call -----------------------------------------------------------------

    async def _guarded(
        self,
        plugin: AnyPlugin,
        point: str,
        *args: Any,
        check: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The call's checked result, ABSENT if skipped; PluginError under ``fail``."""
        settings = plugin.settings
        timeout = settings.timeout_for(point)
        started = time.perf_counter()
        error: BaseException | None = None
        result: Any = ABSENT
        try:
            result = await _bounded(plugin.invoke(point, *args), timeout)
            if result is not ABSENT and check is not None:
                result = check(result)
        except Exception as exc:  # the plugin's own errors, whatever they are
            error = exc
        elapsed = time.perf_counter() - started
        if result is ABSENT and error is None:
            return ABSENT
        plugin.stats.record(plugin.name, point, elapsed, _text(error))
        log.debug("plugin %s %s took %.1f ms", plugin.name, point, elapsed * 1000)
        if error is None:
            return result
        return _fail_or_ignore(plugin.name, point, settings.policy_for(point), error)


async def _bounded(call: Any, timeout: float) -> Any:
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise PluginTimeout(f"no answer within {timeout:g} s") from None


def _fail_or_ignore(name: str, point: str, policy: Policy, error: BaseException) -> Any:
    if policy is Policy.FAIL:
        raise PluginError(name, point, error) from error
    # Nobody can be told but the log: the operation goes on without this plugin.
    log.error("plugin %s failed at %s (policy ignore: skipped): %r", name, point, error)
    return ABSENT


def _text(error: BaseException | None) -> str:
    return "" if error is None else f"{type(error).__name__}: {error}"


def _details(plugin: AnyPlugin) -> dict[str, Any]:
    settings = plugin.settings
    points = {
        point: {
            "Policy": str(settings.policy_for(point)),
            "Timeout": settings.timeout_for(point),
        }
        for point in plugin.points
    }
    return {
        "Name": plugin.name,
        "Kind": plugin.kind,
        "Points": list(plugin.points),
        "Settings": points,
        "Calls": plugin.stats.calls,
        "Errors": plugin.stats.errors,
        "LastError": plugin.stats.last_error,
        "ByPoint": {
            point: {"Calls": s.calls, "Errors": s.errors, "LastError": s.last_error}
            for point, s in plugin.stats.by_point().items()
        },
    }
