"""Loading a plugin: a Python file path or an importable module name.

A plugin module offers up to two objects, looked up by name: ``DaemonPlugin`` (points
``pre_start_hook`` and ``pre_stop_hook``) and ``ContainerPlugin`` (``pre_create``,
``pre_start``, ``pre_create_endpoint``). Either may be a class, which is instantiated
with no arguments, or any object with the methods. A plugin with neither object, a
missing file or an import error is a load error, which stops the daemon at start.

Plain methods run in a thread of their own, a daemon thread: a call that overruns its
timeout is abandoned, and a method that never returns neither holds a worker that
other calls need nor keeps the daemon from exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pouch.hookplugins.settings import PluginSettings
from pouch.hookplugins.stats import Stats

DAEMON_POINTS = ("pre_start_hook", "pre_stop_hook")
CONTAINER_POINTS = ("pre_create", "pre_start", "pre_create_endpoint")

# What ``invoke`` returns for a point the plugin does not implement.
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()


class PluginLoadError(Exception):
    """A plugin could not be loaded; the message names it."""


@dataclass
class Plugin:
    """A loaded plugin: its name (as given on the command line) and its two objects."""

    name: str
    daemon: Any = None
    container: Any = None
    points: list[str] = field(default_factory=list)
    settings: PluginSettings = field(default_factory=lambda: PluginSettings(path=""))
    stats: Stats = field(default_factory=Stats)
    kind: str = "python"

    def __post_init__(self) -> None:
        if not self.settings.path:
            self.settings = PluginSettings(path=self.name)

    def method(self, point: str) -> Any:
        """The plugin's callable for a point, or None if it does not implement it."""
        owner = self.daemon if point in DAEMON_POINTS else self.container
        return getattr(owner, point, None) if owner is not None else None

    async def invoke(self, point: str, *args: Any) -> Any:
        """The point's result as the plugin returned it, or ABSENT."""
        method = self.method(point)
        if method is None:
            return ABSENT
        if inspect.iscoroutinefunction(method):
            return await method(*args)
        result = await run_in_thread(method, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def close(self) -> None:
        """Nothing to release: the module stays imported."""


async def run_in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a new daemon thread; its result or exception."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(error: BaseException | None, value: Any) -> None:
        if future.done():
            return  # the caller gave up (timeout); the late result is dropped
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        error: BaseException | None = None
        value: Any = None
        try:
            value = function(*args)
        except BaseException as exc:  # handed to the caller, not lost in the thread
            error = exc
        # A thread that outlives the daemon's loop finds it closed: nothing to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error, value)

    name = f"plugin-{getattr(function, '__name__', 'call')}"
    threading.Thread(target=work, name=name, daemon=True).start()
    return await future


def load_plugin(spec: str | PluginSettings) -> Plugin:
    settings = spec if isinstance(spec, PluginSettings) else PluginSettings(path=spec)
    spec = settings.path
    module = _import(spec)
    daemon = _instance(spec, getattr(module, "DaemonPlugin", None))
    container = _instance(spec, getattr(module, "ContainerPlugin", None))
    if daemon is None and container is None:
        raise PluginLoadError(
            f"plugin {spec}: defines neither DaemonPlugin nor ContainerPlugin"
        )
    plugin = Plugin(name=spec, daemon=daemon, container=container, settings=settings)
    all_points = DAEMON_POINTS + CONTAINER_POINTS
    plugin.points = [p for p in all_points if callable(plugin.method(p))]
    return plugin


def _import(spec: str) -> ModuleType:
    looks_like_path = spec.endswith(".py") or "/" in spec
    try:
        if looks_like_path:
            return _import_file(Path(spec))
        return importlib.import_module(spec)
    except PluginLoadError:
        raise
    except Exception as exc:  # any error in the plugin's own module code
        raise PluginLoadError(f"plugin {spec}: cannot be imported: {exc!r}") from exc


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginLoadError(f"plugin {path}: no such file")
    resolved = path.resolve()
    # A private module name per file, so two plugins with one file name both load.
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = f"pouch_plugin_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"plugin {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _instance(spec: str, obj: Any) -> Any:
    """A class is made with no arguments; anything it raises is a load error."""
    if not isinstance(obj, type):
        return obj
    try:
        return obj()
    except Exception as exc:
        raise PluginLoadError(
            f"plugin {spec}: {obj.__name__}() failed: {type(exc).__name__}: {exc}"
        ) from exc
